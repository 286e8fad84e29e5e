// Regression tests for rough edges of the CLI found in a user trial:
// provenance.parent_xxh64 left 0, --ctx beyond the model's context accepted
// (generate) or failing with an internal message (eval), an empty
// calibration line for plain RTN files, checksums decimal in --json, no
// --version, CLI11's "A subcommand is required" for an unknown command, and
// quantize of a vision model (once refused).
#include <unistd.h>

#include <filesystem>
#include <regex>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/checksum.h"
#include "format/reader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/cli_util.h"

namespace glmq {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kShared = GLMQ_SHARED_DIR;
const std::string kFixture = kShared + "/fixtures/models/glm4-tiny-chat";

class CliFixes : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() / absl::StrCat("glmq_cli_fixes_", ::getpid())).string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Converted() {
    const std::string path = dir_ + "/bf16.glmq";
    const auto r = testing::RunGlmq("convert " + kFixture + " -o " + path);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return path;
  }
  std::string dir_;
};

TEST_F(CliFixes, QuantizeRecordsTheParentsChecksum) {
  const std::string parent = Converted(), child = dir_ + "/int8.glmq";
  ASSERT_EQ(testing::RunGlmq("quantize " + parent + " -o " + child + " --scheme int8").exit_code,
            0);
  auto p = GlmqFile::Open(parent);
  auto c = GlmqFile::Open(child);
  ASSERT_TRUE(p.ok() && c.ok());
  EXPECT_EQ((*c)->metadata().provenance().parent_file(), parent);
  EXPECT_EQ((*c)->metadata().provenance().parent_xxh64(), (*p)->metadata_xxh64());
  EXPECT_NE((*c)->metadata().provenance().parent_xxh64(), 0u);
  EXPECT_THAT(testing::RunGlmq("inspect " + child).output,
              HasSubstr("(metadata xxh64 " + HexU64((*p)->metadata_xxh64()) + ")"));
}

TEST_F(CliFixes, CtxBeyondTheModelNamesTheFlagAndTheLimit) {
  const std::string m = Converted();
  auto r = testing::RunGlmq("generate " + m + " --prompt Hi -n 1 --ctx 20000");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("--ctx 20000 is more than the model's context of 8192 tokens"));
  r = testing::RunGlmq("eval ppl " + m + " --text " + kShared +
                       "/fixtures/text/valid.txt --ctx 16384 --max-windows 1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("--ctx 16384 is more than the model's context of 8192 tokens"));
  EXPECT_THAT(r.output, Not(HasSubstr("context overflow")));
  EXPECT_EQ(testing::RunGlmq("generate " + m + " --prompt Hi -n 1 --ctx 8192").exit_code, 0);
}

TEST_F(CliFixes, InspectShowsNoCalibrationForPlainRtn) {
  const std::string m = dir_ + "/int8.glmq";
  ASSERT_EQ(testing::RunGlmq("quantize " + kFixture + " -o " + m + " --scheme int8").exit_code, 0);
  const auto r = testing::RunGlmq("inspect " + m);
  EXPECT_THAT(r.output, Not(HasSubstr("0 tokens, 0 windows")));
  EXPECT_THAT(r.output, HasSubstr("method rtn (no calibration data)"));
}

TEST_F(CliFixes, JsonChecksumsAreHexAsInTheText) {
  const std::string m = Converted();
  const auto r = testing::RunGlmqStdout("inspect " + m + " --json");
  ASSERT_EQ(r.exit_code, 0);
  const nlohmann::json j = nlohmann::json::parse(r.output);
  auto f = GlmqFile::Open(m);
  ASSERT_TRUE(f.ok());
  ASSERT_GT(j["tensors"].size(), 0u);
  EXPECT_EQ(j["tensors"][0]["xxh64"], HexU64((*f)->metadata().tensors(0).xxh64()));
  for (const auto& s : j["provenance"]["source_files"]) {
    EXPECT_TRUE(std::regex_match(s["xxh64"].get<std::string>(), std::regex("[0-9a-f]{16}")))
        << s["xxh64"];
  }
  EXPECT_EQ(j["tokenizer"]["files"][0]["xxh64"],
            HexU64((*f)->metadata().tokenizer().files(0).xxh64()));
}

TEST(CliTopLevel, VersionReportsTheBuild) {
  const auto r = testing::RunGlmqStdout("--version");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(std::regex_search(r.output, std::regex("^glmq \\d+\\.\\d+\\.\\d+\n"))) << r.output;
  for (const char* field : {"git commit ", "build type ", "SIMD ", "CUDA o"}) {
    EXPECT_THAT(r.output, HasSubstr(field));
  }
}

TEST(CliTopLevel, UnknownOrMissingCommandListsTheCommands) {
  auto r = testing::RunGlmq("frobnicate");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("unknown command 'frobnicate'"));
  for (const char* c : {"convert", "generate", "quantize", "tokenize"}) {
    EXPECT_THAT(r.output, HasSubstr(c));
  }
  EXPECT_THAT(r.output, Not(HasSubstr("A subcommand is required")));
  r = testing::RunGlmq("");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("no command given"));
}

TEST_F(CliFixes, VisionModelsQuantize) {
  const std::string out = dir_ + "/v.glmq";
  auto r = testing::RunGlmq("quantize " + kShared + "/fixtures/models/glm4v-tiny -o " + out +
                            " --scheme int8");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, Not(HasSubstr("not supported")));
  EXPECT_TRUE(fs::exists(out));
}

}  // namespace
}  // namespace glmq
