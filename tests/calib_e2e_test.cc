// Calibration end to end through the glmq binary on the trained fixture
// glm4-tiny-chat (default suite): the statistics file written by `glmq
// calibrate` round-trips through StatsWriter/StatsFile, and a corrupt
// statistics file or one from another model is a clear error of `glmq
// quantize`. The KL comparison of the methods is calib_e2e_slow_test.cc.
// specs/calibration.md.
#include <filesystem>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "format/stats_file.h"
#include "tests/calib_e2e_util.h"

namespace glmq {
namespace {

using ::testing::HasSubstr;
using namespace calib_e2e;  // NOLINT

TEST(CalibE2E, StatsFileRoundTrips) {
  const std::string stats = Calibrate(Convert("glm4-tiny-chat"), "rt");
  auto file = StatsFile::Open(stats);
  ASSERT_TRUE(file.ok()) << file.status();
  const calib::pb::StatsMetadata& m = (*file)->metadata();
  EXPECT_EQ(m.n_windows(), 16);
  EXPECT_EQ(m.window(), 128);
  EXPECT_EQ(m.n_tokens(), 16 * 128);
  EXPECT_TRUE(m.has_xtx());
  EXPECT_NE(m.weights_xxh64(), 0u);
  EXPECT_EQ(m.inputs_size(), 4 * 4 + 1);  // 4 layers x 4 linears + output
  const std::string copy = Dir() + "/rt-copy.stats";
  auto w = StatsWriter::Create(copy);
  ASSERT_TRUE(w.ok()) << w.status();
  (*w)->metadata() = m;
  (*w)->metadata().clear_inputs();
  for (const auto& r : m.inputs()) {
    auto s = (*file)->Load(r.weight());
    ASSERT_TRUE(s.ok()) << s.status();
    ASSERT_TRUE((*w)->Add(*s).ok());
  }
  ASSERT_TRUE((*w)->Finish().ok());
  auto back = StatsFile::Open(copy);
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ((*back)->metadata().inputs_size(), m.inputs_size());
  for (const auto& r : m.inputs()) {
    auto a = (*file)->Load(r.weight());
    auto b = (*back)->Load(r.weight());
    ASSERT_TRUE(a.ok() && b.ok()) << r.weight();
    EXPECT_EQ(a->count, b->count);
    EXPECT_EQ(a->cols, b->cols);
    EXPECT_EQ(a->sum_x2, b->sum_x2) << r.weight();
    EXPECT_EQ(a->sum_abs, b->sum_abs) << r.weight();
    EXPECT_EQ(a->xtx, b->xtx) << r.weight();
    EXPECT_EQ(a->samples, b->samples) << r.weight();
  }
}

// One layer per pass (each pass resumes from the residual stream and unmaps
// the layers it is done with) records the same statistics, activation
// samples included, as one pass over all layers.
TEST(CalibE2E, LayersPerPassRecordsTheSameStatistics) {
  const std::string model = Convert("glm4-tiny-chat");
  std::string log_all, log_one;
  auto all = StatsFile::Open(Calibrate(model, "pass-all", "", &log_all));
  auto one = StatsFile::Open(Calibrate(model, "pass-one", "--layers-per-pass 1", &log_one));
  // The default fits the fixture's 4 small layers into one pass.
  EXPECT_THAT(log_all, HasSubstr("passes: 1 of <= 4 layers"));
  EXPECT_THAT(log_one, HasSubstr("passes: 4 of <= 1 layers"));
  ASSERT_TRUE(all.ok() && one.ok());
  const calib::pb::StatsMetadata& m = (*all)->metadata();
  ASSERT_EQ((*one)->metadata().inputs_size(), m.inputs_size());
  for (const auto& r : m.inputs()) {
    auto a = (*all)->Load(r.weight());
    auto b = (*one)->Load(r.weight());
    ASSERT_TRUE(a.ok() && b.ok()) << r.weight();
    EXPECT_EQ(a->count, b->count) << r.weight();
    EXPECT_EQ(a->sum_x2, b->sum_x2) << r.weight();
    EXPECT_EQ(a->sum_abs, b->sum_abs) << r.weight();
    EXPECT_EQ(a->xtx, b->xtx) << r.weight();
    EXPECT_EQ(a->samples, b->samples) << r.weight();
  }
}

TEST(CalibE2E, CorruptOrForeignStatsAreClearErrors) {
  const std::string bf16 = Convert("glm4-tiny-chat");
  const std::string stats = Calibrate(bf16, "bad");
  std::string bytes;
  {
    std::ifstream in(stats, std::ios::binary);
    bytes.assign((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  ASSERT_GT(bytes.size(), 1000u);
  const std::string q = Dir() + "/bad-out.glmq";
  auto quantize = [&](const std::string& model, const std::string& calib, std::string* out) {
    return Glmq("quantize " + model + " -o " + q + " --scheme int4-g128" +
                    " --method gptq --calib " + calib, out);
  };
  std::string out;
  // Truncated: the header's metadata range points past the end.
  const std::string truncated = Dir() + "/truncated.stats";
  std::ofstream(truncated, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  EXPECT_EQ(quantize(bf16, truncated, &out), 1);
  EXPECT_THAT(out, HasSubstr(truncated));
  // One flipped byte in the arrays: that record's checksum fails.
  std::string flipped_bytes = bytes;
  flipped_bytes[200] ^= 0x40;
  const std::string flipped = Dir() + "/flipped.stats";
  std::ofstream(flipped, std::ios::binary) << flipped_bytes;
  EXPECT_EQ(quantize(bf16, flipped, &out), 1);
  EXPECT_THAT(out, HasSubstr(flipped));
  EXPECT_THAT(out, HasSubstr("checksum"));
  // Not a statistics file at all.
  EXPECT_EQ(quantize(bf16, bf16, &out), 1);
  EXPECT_THAT(out, HasSubstr(bf16));
  // Statistics of glm4-tiny-chat for glm4-tiny-0414 (same shapes, other
  // weights), and for chat-hf (same weights in another layout: accepted).
  EXPECT_EQ(quantize(kModels + "glm4-tiny-0414", stats, &out), 1);
  EXPECT_THAT(out, HasSubstr("calibrated on a different model"));
  EXPECT_EQ(quantize(kModels + "glm4-tiny-chat-hf", stats, &out), 0) << out;
  EXPECT_FALSE(std::filesystem::exists(q + ".tmp"));
}

}  // namespace
}  // namespace glmq
