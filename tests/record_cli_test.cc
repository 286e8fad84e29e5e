// The evidence a .glmq carries (issue 15), through the real binary:
// `eval ppl|kld --record` stores an EvalResult, `inspect` (text and JSON)
// shows it, `verify` still passes; `plan --measure` without a CUDA device
// fails with a clear error and leaves the file as it was; `plan --record`
// needs --measure. The recorded VRAM section itself is covered by
// format/record_test.cc and plan/measure_test.cc.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "runtime/cuda/cuda_backend.h"
#include "tests/cli_util.h"

namespace glmq {
namespace {

using ::glmq::testing::RunGlmq;
using ::glmq::testing::RunGlmqStdout;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

const std::string kFixture = std::string(GLMQ_SOURCE_DIR) + "/testdata/models/glm4-tiny-chat";

class RecordCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / absl::StrCat("glmq_record_cli_", ::getpid());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    model_ = (dir_ / "m.glmq").string();
    const auto c = RunGlmq(absl::StrCat("convert ", kFixture, " -o ", model_));
    ASSERT_EQ(c.exit_code, 0) << c.output;
    text_ = (dir_ / "text.txt").string();
    std::ofstream(text_) << "The quick brown fox jumps over the lazy dog. "
                            "GLM-4 reads this sentence a few times to have some tokens. "
                            "The quick brown fox jumps over the lazy dog again and again.\n";
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Bytes(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
  }
  fs::path dir_;
  std::string model_, text_;
};

TEST_F(RecordCli, EvalRecordIsShownAndVerifies) {
  const auto before = RunGlmqStdout("inspect --json " + model_);
  ASSERT_EQ(before.exit_code, 0);
  EXPECT_EQ(nlohmann::json::parse(before.output)["evals"].size(), 0u);  // an older-style file
  const auto ppl =
      RunGlmq(absl::StrCat("eval ppl ", model_, " --text ", text_, " --ctx 16 --kv bf16 --record"));
  ASSERT_EQ(ppl.exit_code, 0) << ppl.output;
  EXPECT_THAT(ppl.output, HasSubstr("recorded ppl result in"));
  const auto kld = RunGlmq(absl::StrCat("eval kld --model ", model_, " --ref ", model_, " --text ",
                                        text_, " --ctx 16 --record"));
  ASSERT_EQ(kld.exit_code, 0) << kld.output;
  const auto text = RunGlmq("inspect " + model_);
  ASSERT_EQ(text.exit_code, 0) << text.output;
  EXPECT_THAT(text.output, HasSubstr("eval       ppl on " + text_));
  EXPECT_THAT(text.output, HasSubstr("ctx=16 stride=0 score=all kv=bf16"));
  EXPECT_THAT(text.output, HasSubstr("ref " + model_));
  const auto json = RunGlmqStdout("inspect --json " + model_);
  ASSERT_EQ(json.exit_code, 0);
  const nlohmann::json j = nlohmann::json::parse(json.output);
  ASSERT_EQ(j["evals"].size(), 2u);
  EXPECT_EQ(j["evals"][0]["kind"], "ppl");
  EXPECT_GT(j["evals"][0]["values"]["ppl"].get<double>(), 1.0);
  EXPECT_EQ(j["evals"][0]["device"].get<std::string>().rfind("cpu", 0), 0u);  // "cpu-avx512-2t"
  EXPECT_EQ(j["evals"][0]["text_xxh64"].get<std::string>().size(), 16u);
  EXPECT_EQ(j["evals"][1]["kind"], "kld");
  EXPECT_NEAR(j["evals"][1]["values"]["mean_kld"].get<double>(), 0.0, 1e-9);
  EXPECT_EQ(j["evals"][1]["reference_xxh64"].get<std::string>().size(), 16u);
  const auto v = RunGlmq("verify " + model_);
  EXPECT_EQ(v.exit_code, 0) << v.output;
  // The recorded file still loads with verify-on-load.
  const auto again = RunGlmq(absl::StrCat("eval ppl ", model_, " --text ", text_, " --ctx 16"));
  EXPECT_EQ(again.exit_code, 0) << again.output;
}

TEST_F(RecordCli, MeasureWithoutDeviceFailsCleanly) {
  if (CudaDeviceCount() > 0) GTEST_SKIP() << "a CUDA device is present (the cuda test measures)";
  const std::string before = Bytes(model_);
  const auto r = RunGlmq("plan " + model_ + " --measure --contexts 1K --record");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("needs a CUDA device"));
  EXPECT_EQ(Bytes(model_), before);
  const auto rec = RunGlmq("plan " + model_ + " --record");
  EXPECT_EQ(rec.exit_code, 1);
  EXPECT_THAT(rec.output, HasSubstr("add --measure"));
  const auto cpu = RunGlmq("plan " + model_ + " --measure --device cpu");
  EXPECT_EQ(cpu.exit_code, 1);
  EXPECT_THAT(cpu.output, HasSubstr("--device cuda"));
}

}  // namespace
}  // namespace glmq
