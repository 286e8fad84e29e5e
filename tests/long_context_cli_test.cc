// Long contexts through the CLI: `glmq eval` and `glmq logits` refuse a
// context above the model's maximum (naming --ctx-override and the limit) or
// one that does not fit (naming the flags and the bytes), run past the
// maximum with a warning when asked; `glmq logits` matches the long
// reference; the KV bytes eval reports equal `glmq plan --context`'s.
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/cli_util.h"
#include "tests/runtime_test_util.h"

namespace glmq {
namespace {

using ::glmq::testing::RunGlmq;
using ::glmq::testing::RunGlmqStdout;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

const std::string kShared = std::string(GLMQ_SHARED_DIR) + "/fixtures/";
const std::string kText = kShared + "text/valid.txt";

// A .npy of int32 ids, written by hand (NumPy format 1.0).
void WriteIds(const std::string& path, const std::vector<int32_t>& ids) {
  std::string header =
      absl::StrCat("{'descr': '<i4', 'fortran_order': False, 'shape': (", ids.size(), ",), }");
  header.append(64 - (10 + header.size() + 1) % 64, ' ');
  header.push_back('\n');
  std::ofstream f(path, std::ios::binary);
  f.write("\x93NUMPY\x01\x00", 8);
  const uint16_t len = header.size();
  f.write(reinterpret_cast<const char*>(&len), 2);
  f << header;
  f.write(reinterpret_cast<const char*>(ids.data()), ids.size() * 4);
}

class LongCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::temp_directory_path() / absl::StrCat("glmq_long_cli_", ::getpid()));
    fs::create_directories(*dir_);
    for (const char* m : {"glm4-tiny-chat", "glm4-tiny-chat-1m"}) {
      const auto c = RunGlmq(absl::StrCat("convert ", kShared, "models/", m, " -o ", Path(m)));
      ASSERT_EQ(c.exit_code, 0) << c.output;
    }
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
  }
  static std::string Path(const std::string& name, const std::string& ext = ".glmq") {
    return (*dir_ / (name + ext)).string();
  }
  static fs::path* dir_;
};
fs::path* LongCli::dir_ = nullptr;

TEST_F(LongCli, AContextAboveTheModelsMaximumNeedsTheOverride) {
  const auto r = RunGlmq(absl::StrCat("eval ppl ", Path("glm4-tiny-chat"), " --text ", kText,
                                      " --ctx 9000 --max-windows 1"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("--ctx 9000"));
  EXPECT_THAT(r.output, HasSubstr("the model's context of 8192 tokens"));
  EXPECT_THAT(r.output, HasSubstr("--ctx-override"));
  const auto ok = RunGlmq(absl::StrCat("eval ppl ", Path("glm4-tiny-chat"), " --text ", kText,
                                       " --ctx 8448 --max-windows 1 --ctx-override"));
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_THAT(ok.output, HasSubstr("warning: --ctx 8448 is above the model's maximum of 8192"));
  EXPECT_THAT(ok.output, HasSubstr("1 windows of 8448"));
}

TEST_F(LongCli, AContextThatDoesNotFitIsRefusedBeforeAllocating) {
  const auto r = RunGlmq(absl::StrCat("eval ppl ", Path("glm4-tiny-chat-1m"), " --text ", kText,
                                      " --ctx 65536 --kv f32 --mem-limit 64M"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("--ctx 65536 --kv f32"));
  EXPECT_THAT(r.output, HasSubstr("0.12 GiB of f32 KV cache"));
  EXPECT_THAT(r.output, HasSubstr("--mem-limit"));
  const auto g = RunGlmq(absl::StrCat("generate ", Path("glm4-tiny-chat-1m"),
                                      " --prompt hello --ctx 1048576 --kv bf16 --mem-limit 512M"));
  EXPECT_EQ(g.exit_code, 1);
  EXPECT_THAT(g.output, HasSubstr("--ctx 1048576 --kv bf16"));
  EXPECT_THAT(g.output, HasSubstr("1.00 GiB of bf16 KV cache"));
  EXPECT_THAT(g.output, HasSubstr("int8 0.53 GiB"));
  const auto kv =
      RunGlmq(absl::StrCat("eval ppl ", Path("glm4-tiny-chat-1m"), " --text ", kText, " --kv q4"));
  EXPECT_EQ(kv.exit_code, 1);
  EXPECT_THAT(kv.output, HasSubstr("--kv"));
  EXPECT_THAT(kv.output, HasSubstr("bf16"));
}

TEST_F(LongCli, EvalKvBytesEqualThePlan) {
  for (const char* kv : {"bf16", "int8"}) {
    const auto e =
        RunGlmqStdout(absl::StrCat("eval ppl ", Path("glm4-tiny-chat-1m"), " --text ", kText,
                                   " --ctx 3000 --max-windows 1 --json --kv ", kv));
    ASSERT_EQ(e.exit_code, 0) << e.output;
    const auto p =
        RunGlmqStdout(absl::StrCat("plan ", Path("glm4-tiny-chat-1m"), " --context 3000 --json"));
    ASSERT_EQ(p.exit_code, 0) << p.output;
    const auto ej = nlohmann::json::parse(e.output), pj = nlohmann::json::parse(p.output);
    EXPECT_EQ(ej["kv_cache_bytes"].get<uint64_t>(), pj["rows"][0]["kv"][kv].get<uint64_t>()) << kv;
    EXPECT_EQ(pj["rows"][0]["context"], 3000);
    EXPECT_EQ(pj["kv_block_tokens"], 256);
  }
}

TEST_F(LongCli, LogitsOfASequenceMatchTheLongReference) {
  const std::string ref = kShared + "reference/long/";
  auto ids = testing_util::ReadNpy(ref + "ids.npy");
  auto at = testing_util::ReadNpy(ref + "glm4-tiny-chat-1m.logits_at.npy");
  ASSERT_TRUE(ids.ok() && at.ok());
  std::vector<int32_t> first = testing_util::NpyValues<int32_t>(*ids);
  first.resize(1024);
  WriteIds(Path("ids1024", ".npy"), first);
  const auto r =
      RunGlmq(absl::StrCat("logits ", Path("glm4-tiny-chat-1m"), " --ids ", Path("ids1024", ".npy"),
                           " --last 2 -o ", Path("out", ".npy"), " --chunk 300"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto out = testing_util::ReadNpy(Path("out", ".npy"));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->descr, "<f4");
  EXPECT_EQ(out->shape, (std::vector<int64_t>{2, 4160}));
  const std::vector<float> got = testing_util::NpyValues<float>(*out);
  const std::vector<float> want = testing_util::NpyValues<float>(*at);  // row 1023 first
  float worst = 0;
  for (int i = 0; i < 4160; ++i) worst = std::max(worst, std::abs(got[4160 + i] - want[i]));
  EXPECT_LE(worst, 1e-4f);
  const auto bad = RunGlmq(absl::StrCat("logits ", Path("glm4-tiny-chat-1m"), " --ids ", kText,
                                        " -o ", Path("bad", ".npy")));
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.output, HasSubstr("valid.txt: not a .npy file"));
  EXPECT_FALSE(fs::exists(Path("bad", ".npy")));
}

}  // namespace
}  // namespace glmq
