// `glmq plan` as users run it: on an HF folder, a bare config.json and .glmq
// files written by `glmq convert` / `glmq quantize`. The planner's estimate
// for a scheme must equal the bytes `glmq quantize` really writes for it.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/cli_util.h"

namespace glmq {
namespace {

using ::glmq::testing::RunGlmq;
using ::glmq::testing::RunGlmqStdout;
using ::testing::HasSubstr;

namespace fs = std::filesystem;

const std::string kFixture = std::string(GLMQ_SOURCE_DIR) + "/testdata/models/glm4-tiny-chat";
const std::string kConfigs = std::string(GLMQ_SHARED_DIR) + "/reference/configs/";

nlohmann::json PlanJson(const std::string& model) {
  const auto r = RunGlmqStdout("plan --json " + model);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return nlohmann::json::parse(r.output, nullptr, /*allow_exceptions=*/false);
}

class PlanCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // One folder per process: ctest runs each test of this suite as its own process.
    dir_ = new fs::path(fs::temp_directory_path() /
                        absl::StrCat("glmq_plan_cli_test_", ::getpid()));
    fs::remove_all(*dir_);
    fs::create_directories(*dir_);
    const auto c = RunGlmq(absl::StrCat("convert ", kFixture, " -o ", Path("bf16")));
    ASSERT_EQ(c.exit_code, 0) << c.output;
    for (const char* scheme : {"int8", "int4-g128", "int4-g32"}) {
      const auto q = RunGlmq(
          absl::StrCat("quantize ", Path("bf16"), " -o ", Path(scheme), " --scheme ", scheme));
      ASSERT_EQ(q.exit_code, 0) << q.output;
    }
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
  }
  static std::string Path(const std::string& name) { return (*dir_ / (name + ".glmq")).string(); }
  static fs::path* dir_;
};
fs::path* PlanCli::dir_ = nullptr;

TEST_F(PlanCli, FileWeightsEqualThePlannedSchemeForEveryPreset) {
  for (const char* scheme : {"int8", "int4-g128", "int4-g32"}) {
    SCOPED_TRACE(scheme);
    const nlohmann::json j = PlanJson(Path(scheme));
    ASSERT_FALSE(j.is_discarded());
    const std::string file_key = absl::StrCat("file:", scheme);
    ASSERT_TRUE(j["weights"].contains(file_key)) << j["weights"].dump();
    const uint64_t file_bytes = j["weights"][file_key]["bytes"];
    const uint64_t planned = j["weights"][scheme]["bytes"];
    EXPECT_EQ(file_bytes, planned);
    // The file's own column is the sum of its tensors' sizes as inspect sees them.
    const auto ins = RunGlmqStdout("inspect --json --tensors " + Path(scheme));
    ASSERT_EQ(ins.exit_code, 0);
    const nlohmann::json t = nlohmann::json::parse(ins.output, nullptr, false);
    ASSERT_FALSE(t.is_discarded());
    uint64_t sum = 0;
    // protobuf JSON writes uint64 as a string.
    for (const auto& e : t["tensors"]) sum += std::stoull(e["size"].get<std::string>());
    EXPECT_EQ(sum, file_bytes);
  }
  // bf16: the converted file is the bf16 estimate, and smaller schemes are smaller.
  const nlohmann::json b = PlanJson(Path("bf16"));
  EXPECT_EQ(b["weights"]["file"]["bytes"], b["weights"]["bf16"]["bytes"]);
  EXPECT_LT(b["weights"]["int4-g128"]["bytes"], b["weights"]["int8"]["bytes"]);
}

TEST_F(PlanCli, GlmqFolderAndConfigGiveTheSameRows) {
  const nlohmann::json f = PlanJson(Path("bf16")), d = PlanJson(kFixture),
                       c = PlanJson(kFixture + "/config.json");
  ASSERT_FALSE(f.is_discarded() || d.is_discarded() || c.is_discarded());
  EXPECT_EQ(d["rows"], c["rows"]);
  EXPECT_EQ(d["kv_bytes_per_token"], f["kv_bytes_per_token"]);
  EXPECT_EQ(d["max_context"], 8192);
  ASSERT_EQ(d["rows"].size(), 4u);  // 1K 2K 4K 8K
  for (size_t i = 0; i < d["rows"].size(); ++i) {
    EXPECT_EQ(d["rows"][i]["context"], f["rows"][i]["context"]);
    EXPECT_EQ(d["rows"][i]["total"]["int8"], f["rows"][i]["total"]["int8"]);
  }
}

TEST_F(PlanCli, CsvGpuAndPlotOutputs) {
  const auto csv = RunGlmqStdout("plan --csv " + kConfigs + "glm-4-9b-chat-1m.json");
  ASSERT_EQ(csv.exit_code, 0) << csv.output;
  std::vector<std::string> lines = absl::StrSplit(csv.output, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 12u);  // header + 1K..1M
  EXPECT_THAT(lines[0], HasSubstr("context,kv_bf16,kv_int8"));
  EXPECT_THAT(lines.back(), ::testing::StartsWith("1048576,85899345920,"));  // 81920 B/token

  const auto gpu = RunGlmq("plan --gpu 24G " + kConfigs + "glm-4-9b-chat.json");
  ASSERT_EQ(gpu.exit_code, 0) << gpu.output;
  for (const char* s : {"bf16", "int8", "int4-g128", "int4-g32"}) EXPECT_THAT(gpu.output, HasSubstr(s));

  const std::string svg = (*dir_ / "plan.svg").string();
  const auto p = RunGlmq(absl::StrCat("plan --plot ", svg, " ", kConfigs, "glm-4v-9b.json"));
  ASSERT_EQ(p.exit_code, 0) << p.output;
  std::ifstream in(svg);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_THAT(text, HasSubstr("<svg"));
  EXPECT_THAT(text, HasSubstr("</svg>"));
}

TEST_F(PlanCli, BadInputsFailWithTheirNames) {
  const auto missing = RunGlmq("plan /nonexistent/model");
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_THAT(missing.output, HasSubstr("/nonexistent/model"));

  const std::string bad = (*dir_ / "bad-config.json").string();
  {  // The fixture's config without hidden_size.
    std::ifstream in(kFixture + "/config.json");
    nlohmann::json cfg = nlohmann::json::parse(in);
    ASSERT_EQ(cfg.erase("hidden_size"), 1u);
    std::ofstream(bad) << cfg.dump();
  }
  const auto r = RunGlmq("plan " + bad);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("bad-config.json"));
  EXPECT_THAT(r.output, HasSubstr("hidden_size"));

  const std::string junk = (*dir_ / "junk.glmq").string();
  std::ofstream(junk) << "not a glmq file";
  const auto j = RunGlmq("plan " + junk);
  EXPECT_NE(j.exit_code, 0);
  EXPECT_THAT(j.output, HasSubstr("junk.glmq"));

  const auto g = RunGlmq("plan --gpu 24X " + kConfigs + "glm-4-9b-chat.json");
  EXPECT_NE(g.exit_code, 0);
  EXPECT_THAT(g.output, HasSubstr("24X"));
}

}  // namespace
}  // namespace glmq

namespace glmq {
namespace {

// --tp: per-GPU figures, the KV-head replication note and a refused split.
TEST(PlanCliTp, PerGpuAnswerAndErrors) {
  const std::string cfg = std::string(GLMQ_SHARED_DIR) + "/reference/configs/glm-4-9b-chat.json";
  auto r = testing::RunGlmq("plan " + cfg + " --tp 8 --gpu 24G");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, ::testing::HasSubstr("per GPU of 8"));
  EXPECT_THAT(r.output, ::testing::HasSubstr("replicated on 4 GPUs"));
  const auto j = nlohmann::json::parse(testing::RunGlmqStdout("plan --json " + cfg + " --tp 2").output,
                                       nullptr, false);
  ASSERT_FALSE(j.is_discarded());
  EXPECT_EQ(j["tp"]["kv_heads_per_gpu"], 1);
  r = testing::RunGlmq("plan " + cfg + " --tp 3");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, ::testing::HasSubstr("--tp 3: 32 query heads do not split evenly"));
}

}  // namespace
}  // namespace glmq
