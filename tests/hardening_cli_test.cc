// Regression tests of the flag campaign: values of command-line flags that
// crashed, hung or allocated without bound, and --tensor-type patterns.
#include <chrono>
#include <string>

#include "core/checksum.h"
#include "format/test_util.h"
#include "tests/hardening_util.h"

namespace glmq::testing {
namespace {

using ::testing::HasSubstr;

class Flags : public Hardening {};

TEST_F(Flags, EmptyPromptIsAnErrorNotACrash) {
  EXPECT_CLEAN_ERROR(Glmq("generate " + Q() + " --prompt '' -n 2"), "give --prompt TEXT");
  const CliRun chat = Glmq("generate " + Q() + " --prompt '' --chat -n 2");
  EXPECT_EQ(chat.rc, 0) << chat.output;  // the chat template gives tokens
}

TEST_F(Flags, SamplingFlagsOutsideTheirRangeAreErrors) {
  EXPECT_CLEAN_ERROR(Glmq("generate " + Q() + " --prompt hi --temp nan"), "--temp must be");
  EXPECT_CLEAN_ERROR(Glmq("generate " + Q() + " --prompt hi --temp inf"), "--temp must be");
  EXPECT_CLEAN_ERROR(Glmq("generate " + Q() + " --prompt hi --temp -1"), "--temp must be");
  EXPECT_CLEAN_ERROR(Glmq("generate " + Q() + " --prompt hi --top-p 0"), "--top-p must be");
  EXPECT_CLEAN_ERROR(Glmq("generate " + Q() + " --prompt hi --top-p nan"), "--top-p must be");
  EXPECT_CLEAN_ERROR(Glmq("generate " + Q() + " --prompt hi -n -1"), "-n -1 is not within");
  EXPECT_CLEAN_ERROR(Glmq("generate " + Q() + " --prompt hi -n 9223372036854775807"),
                     "is not within 0..2^30");
}

TEST_F(Flags, ThreadCountsOutsideTheRangeAreErrors) {
  for (const char* t_text : {"2147483647", "-3", "1025"}) {
    const std::string t = t_text;
    EXPECT_CLEAN_ERROR(Glmq("generate " + Q() + " --prompt hi -n 2 -t " + t),
                       "-t " + t + " is not within 0..1024");
    EXPECT_CLEAN_ERROR(Glmq("eval ppl " + Q() + " --text " + kValidText + " -t " + t),
                       "is not within 0..1024");
  }
  EXPECT_EQ(Glmq("generate " + Q() + " --prompt hi -n 2 -t 0").rc, 0);
}

TEST_F(Flags, HugeSearchGridIsAnErrorAndLeavesNothing) {
  EXPECT_CLEAN_ERROR(Glmq("quantize " + M() + " -o " + Path("out.glmq") +
                          " --scheme int4-g128 --search-grid 2000000000"),
                     "--search-grid 2000000000 is not within 0..256");
  EXPECT_FALSE(fs::exists(Path("out.glmq")));
  EXPECT_EQ(TempFiles(), 0);
}

TEST_F(Flags, TensorTypePatternsCannotOverflowTheStackOrHang) {
  const std::string q = "quantize " + M() + " -o " + Path("out.glmq") + " --scheme int8 ";
  std::string nested(30000, '(');
  nested += std::string(30000, ')') + "x=q8";
  EXPECT_CLEAN_ERROR(Glmq(q + "--tensor-type '" + nested + "'", 30), "over the limit of 1024");
  std::string deep(40, '(');
  deep += "a" + std::string(40, ')') + "=q8";
  EXPECT_CLEAN_ERROR(Glmq(q + "--tensor-type '" + deep + "'", 30), "nests groups deeper than 32");
  const auto t0 = std::chrono::steady_clock::now();
  // Catastrophic backtracking in std::regex; linear in RE2. No name ends in
  // x, so the rule decides nothing, which is an error naming it.
  EXPECT_CLEAN_ERROR(Glmq(q + "--tensor-type '^(.*)*x$=q8'", 30),
                     "--tensor-type '^(.*)*x$=q8' decides no tensor");
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 20);
  EXPECT_FALSE(fs::exists(Path("out.glmq")));
}

TEST_F(Flags, TensorTypeRulesThatDecideNothingAreErrors) {
  const std::string q = "quantize " + M() + " -o " + Path("out.glmq") + " --scheme int8 ";
  EXPECT_CLEAN_ERROR(Glmq(q + "--tensor-type 'ffn_dwn=q4'"), "matches no tensor name");
  EXPECT_CLEAN_ERROR(Glmq(q + "--tensor-type 'attn_norm=f32'"), "matches only 4 vectors");
  EXPECT_CLEAN_ERROR(Glmq(q + "--tensor-type 'ffn=q4' --tensor-type 'ffn_down=q8'"),
                     "'ffn_down=q8' decides no tensor: every tensor it matches (4) is taken");
  EXPECT_CLEAN_ERROR(Glmq(q + "--tensor-type '(?=x)=q8'"), "bad tensor pattern");
  const CliRun ok = Glmq(q + "--tensor-type '^blk\\.\\d+\\.ffn_down\\.weight$=q4:32'");
  EXPECT_EQ(ok.rc, 0) << ok.output;
}

TEST_F(Flags, ContextLargerThanTheModelIsRefusedBeforeAllocating) {
  EXPECT_CLEAN_ERROR(Glmq("eval ppl " + Q() + " --text " + kValidText + " --ctx 50000"),
                     "--ctx 50000 is more than the model's context of 8192 tokens");
  EXPECT_CLEAN_ERROR(Glmq("eval ppl " + Q() + " --text " + kValidText + " --ctx -5"),
                     "ctx -5 must be >= 2");
  // A file that says max_context 0 is refused at load (hparams validator).
  const std::string f = Q();
  ASSERT_TRUE(EditMetadata(f, [](pb::ModelMetadata& md) {
                md.mutable_hparams()->set_max_context(0);
              }).ok());
  EXPECT_CLEAN_ERROR(Glmq("generate " + f + " --prompt hi --ctx 1099511627776"),
                     "field 'max_context' is 0");
}

TEST_F(Flags, LogitsFileHeadersAreBoundedBeforeUse) {
  const std::string logits = Path("ref.logits");
  ASSERT_EQ(Glmq("eval ppl " + Q() + " --text " + kValidText +
                 " --max-windows 1 --ctx 64 --save-logits " + logits).rc, 0);
  std::fstream f(logits, std::ios::in | std::ios::out | std::ios::binary);
  const uint64_t ctx = uint64_t{1} << 40;
  f.seekp(24);
  f.write(reinterpret_cast<const char*>(&ctx), 8);
  f.close();
  EXPECT_CLEAN_ERROR(Glmq("eval kld --model " + Q() + " --ref-logits " + logits + " --text " +
                          kValidText),
                     "ctx 1099511627776 is not within 2..1073741824");
}

}  // namespace
}  // namespace glmq::testing
