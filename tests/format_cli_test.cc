// `glmq inspect` and `glmq verify` run as the real binary (GLMQ_CLI) on
// files written by GlmqWriter: output content, exit codes, and the tensor
// name in the error for a corrupted file.
#include <cstdio>
#include <string>

#include "format/embedded.h"
#include "format/reader.h"
#include "format/test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/cli_util.h"

namespace glmq {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

using RunResult = ::glmq::testing::CliResult;

RunResult RunCli(const std::string& args) { return ::glmq::testing::RunGlmq(args); }

class FormatCli : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = testing::TempPath(
        absl::StrCat(::testing::UnitTest::GetInstance()->current_test_info()->name(), ".glmq"));
    ASSERT_TRUE(testing::WriteSmallModel(path_).ok());
    ASSERT_TRUE(testing::EditMetadata(path_, [](pb::ModelMetadata& m) {
                  m.mutable_hparams()->set_architecture("Glm4ForCausalLM");
                  m.mutable_tokenizer()->set_kind("hf-bpe");
                  *m.mutable_tokenizer()->add_files() =
                      MakeEmbeddedFile("tokenizer.json", std::string(5000, 'a'));
                  m.mutable_quant()->set_preset("q4-test");
                  pb::EvalResult* e = m.add_evals();
                  e->set_kind("ppl");
                  (*e->mutable_values())["ppl"] = 12.5;
                }).ok());
  }
  void TearDown() override { std::remove(path_.c_str()); }
  std::string path_;
};

TEST_F(FormatCli, VerifyOk) {
  // The small test file is sound bytes but no model (3 tensors, no layout):
  // verify checks the tensors against the hparams too.
  const RunResult bogus = RunCli("verify " + path_);
  EXPECT_NE(bogus.exit_code, 0);
  EXPECT_THAT(bogus.output, HasSubstr("hparams"));
  EXPECT_THAT(bogus.output, Not(HasSubstr("OK:")));
  const std::string model = path_ + ".model.glmq";
  const RunResult c = RunCli("convert " + std::string(GLMQ_SHARED_DIR) +
                             "/fixtures/models/glm4-tiny-chat -o " + model);
  ASSERT_EQ(c.exit_code, 0) << c.output;
  const RunResult r = RunCli("verify " + model);
  std::remove(model.c_str());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("OK: 31 tensors"));
  // Not a terminal: no progress redraws.
  EXPECT_THAT(r.output, Not(HasSubstr("\r")));
}

TEST_F(FormatCli, VerifyCorruptTensorNamesIt) {
  std::string all = *ReadFileToString(path_);
  uint64_t offset = 0;
  {
    auto f = GlmqFile::Open(path_);
    ASSERT_TRUE(f.ok());
    offset = (*f)->FindTensor("output_norm.weight")->offset();
  }
  all[offset + 3] ^= 0x10;
  ASSERT_TRUE(WriteFileAtomically(path_, all).ok());
  const RunResult r = RunCli("verify " + path_);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, AllOf(HasSubstr("glmq verify: error:"), HasSubstr("'output_norm.weight'"),
                              HasSubstr("checksum mismatch")));
  EXPECT_THAT(r.output, Not(HasSubstr("OK:")));
}

TEST_F(FormatCli, VerifyCorruptEmbeddedFile) {
  ASSERT_TRUE(testing::EditMetadata(path_, [](pb::ModelMetadata& m) {
                auto* f = m.mutable_tokenizer()->mutable_files(0);
                f->set_xxh64(f->xxh64() + 1);
              }).ok());
  const RunResult r = RunCli("verify " + path_);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("'tokenizer.json'"));
}

TEST_F(FormatCli, VerifyMissingFile) {
  const RunResult r = RunCli("verify " + path_ + ".missing");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr(".missing"));
}

TEST_F(FormatCli, InspectSummaryAndTable) {
  const RunResult r = RunCli("inspect --tensors " + path_);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, AllOf(HasSubstr("Glm4ForCausalLM"), HasSubstr("hf-bpe"),
                              HasSubstr("tokenizer.json"), HasSubstr("q4-test"),
                              HasSubstr("ppl"), HasSubstr("attn_qkv")));
  // token_embd bf16: 16 bits; qkv q4 g32: (2 + 16) * 8 / 32 = 4.5; norm f32: 32.
  EXPECT_THAT(r.output, HasSubstr("16.000"));
  EXPECT_THAT(r.output, HasSubstr("4.500"));
  // Overall: (256 + 288 + 32) bytes * 8 / (128 + 512 + 8) values = 7.111.
  EXPECT_THAT(r.output, HasSubstr("bits/weight: 7.111 overall"));
  EXPECT_THAT(r.output, HasSubstr("[8, 64]"));
}

TEST_F(FormatCli, InspectJsonParsesAndDropsCompressedBytes) {
  const RunResult r = RunCli("inspect --json " + path_);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const nlohmann::json j = nlohmann::json::parse(r.output, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.output;
  EXPECT_EQ(j["tensors"].size(), 3u);
  EXPECT_EQ(j["tensors"][1]["name"], "blk.0.attn_qkv.weight");
  EXPECT_EQ(j["tokenizer"]["files"][0]["name"], "tokenizer.json");
  EXPECT_EQ(j["tokenizer"]["files"][0]["size"], "5000");  // uint64 is a JSON string
  EXPECT_TRUE(j["tokenizer"]["files"][0]["zstd_data"].get<std::string>().empty());
}

TEST_F(FormatCli, InspectRejectsMalformed) {
  ASSERT_TRUE(testing::EditHeader(path_, [](GlmqHeader& h) { h.major = 3; }).ok());
  const RunResult r = RunCli("inspect " + path_);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("format major version 3; this glmq reads version 1"));
}

}  // namespace
}  // namespace glmq
