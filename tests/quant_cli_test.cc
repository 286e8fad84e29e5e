// `glmq quantize` end to end on the trained tiny fixture: errors for bad
// schemes and patterns, the written recipe and per-tensor NMSE, and the
// perplexity of the fully quantized models (token embedding q8 too, the
// presets' default) against bf16 (6 windows of 256 tokens of the valid
// split). Bounds, from quant_sanity.json's degradation scale (int8 +0.001 %,
// int4 g32 +0.4 %): int8 within 0.2 % of bf16, int4-g128 within 3 %, and
// int8 closer to bf16 than int4. Also: a quantized .glmq as input (decoded
// rows, copies, and a clear error for re-quantization).
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sys/wait.h>
#include <cstdlib>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cli_util.h"
#include "pipeline/source.h"
#include "format/reader.h"
#include "quant/dequantize.h"
#include "runtime/eval.h"
#include "runtime/loaded_model.h"
#include "runtime/session.h"
#include "tests/runtime_fixture_util.h"

namespace glmq {
namespace {

const std::string kFixture = std::string(GLMQ_SHARED_DIR) + "/fixtures/models/glm4-tiny-chat";

std::string TmpPath(const std::string& name) {
  return ::testing::TempDir() + "/quant_cli_" + name;
}

// Runs the glmq binary; returns the exit code, stderr+stdout in *out.
int Glmq(const std::string& args, std::string* out) {
  ::glmq::testing::CliResult r = ::glmq::testing::RunGlmq(args);
  *out = std::move(r.output);
  return r.exit_code;
}

TEST(QuantizeCli, BadSchemeAndPatternAreClearErrors) {
  std::string out;
  const std::string dst = TmpPath("bad.glmq");
  EXPECT_EQ(Glmq("quantize " + kFixture + " -o " + dst + " --scheme int3", &out), 1);
  EXPECT_THAT(out, ::testing::HasSubstr("unknown --scheme 'int3'"));
  EXPECT_EQ(Glmq("quantize " + kFixture + " -o " + dst + " --scheme int8 --tensor-type 'blk.(=q4'",
                 &out), 1);
  EXPECT_THAT(out, ::testing::HasSubstr("bad tensor pattern 'blk.('"));
  EXPECT_EQ(Glmq("quantize " + kFixture + " -o " + dst + " --scheme int8 --tensor-type ffn=q5",
                 &out), 1);
  EXPECT_THAT(out, ::testing::HasSubstr("encoding 'q5'"));
  EXPECT_EQ(Glmq("quantize " + kFixture + " -o " + dst + " --scheme int8 --method gptq", &out), 1);
  EXPECT_THAT(out, ::testing::HasSubstr("--method gptq"));
  EXPECT_FALSE(std::ifstream(dst).good());
}

double Ppl(const std::string& path) {
  auto m = LoadGlmqModel(path);
  EXPECT_TRUE(m.ok()) << m.status();
  if (!m.ok()) return 0;
  auto session = Session::Create(m->model.get(), SessionOptions{});
  EXPECT_TRUE(session.ok()) << session.status();
  if (!session.ok()) return 0;
  PplOptions opt;
  opt.max_windows = 6;
  const std::vector<int32_t> tokens = ValidTokens();
  auto r = Perplexity(**session, tokens, opt);
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return 0;
  EXPECT_FALSE(r->non_finite);
  return r->nll.ppl();
}

TEST(QuantizeCli, RecipeNmseAndPerplexity) {
  std::string out;
  const std::string bf16 = TmpPath("bf16.glmq"), q8 = TmpPath("int8.glmq"),
                    q4 = TmpPath("int4.glmq");
  ASSERT_EQ(Glmq("convert " + kFixture + " -o " + bf16, &out), 0) << out;
  ASSERT_EQ(Glmq("quantize " + kFixture + " -o " + q8 + " --scheme int8", &out), 0)
      << out;
  EXPECT_THAT(out, ::testing::ContainsRegex("token_embd\\.weight +q8 +g32 "));
  // From a .glmq source, with an extra rule.
  ASSERT_EQ(Glmq("quantize " + bf16 + " -o " + q4 + " --scheme int4-g128" +
                     " --tensor-type 'blk\\.0\\.ffn_down=q4a:32'", &out), 0) << out;
  EXPECT_THAT(out, ::testing::HasSubstr("blk.0.ffn_down.weight"));

  auto f = GlmqFile::Open(q4);
  ASSERT_TRUE(f.ok()) << f.status();
  const pb::QuantRecipe& recipe = (*f)->metadata().quant();
  EXPECT_EQ(recipe.preset(), "int4-g128");
  EXPECT_EQ(recipe.calibration().method(), "rtn");
  EXPECT_GT(recipe.rules_size(), 3);
  EXPECT_GT(recipe.bits_per_weight(), 4.1);
  EXPECT_LT(recipe.bits_per_weight(), 8.0);
  const pb::TensorEntry* down0 = (*f)->FindTensor("blk.0.ffn_down.weight");
  ASSERT_NE(down0, nullptr);
  EXPECT_EQ(down0->encoding(), pb::ENCODING_Q4_ASYM);
  EXPECT_EQ(down0->group_size(), 32);
  const pb::TensorEntry* qkv1 = (*f)->FindTensor("blk.1.attn_qkv.weight");
  ASSERT_NE(qkv1, nullptr);
  EXPECT_EQ(qkv1->encoding(), pb::ENCODING_Q4_SYM);
  EXPECT_GT(qkv1->quant_nmse(), 1e-4);
  EXPECT_LT(qkv1->quant_nmse(), 3e-2);
  EXPECT_EQ((*f)->FindTensor("blk.1.attn_norm.weight")->quant_nmse(), 0.0);
  EXPECT_EQ((*f)->FindTensor("output.weight")->encoding(), pb::ENCODING_Q8_SYM);
  // The default policy quantizes the embedding too (q8 at the preset's group).
  const pb::TensorEntry* embd = (*f)->FindTensor("token_embd.weight");
  ASSERT_NE(embd, nullptr);
  EXPECT_EQ(embd->encoding(), pb::ENCODING_Q8_SYM);
  EXPECT_EQ(embd->group_size(), 128);
  EXPECT_EQ((*f)->FindTensor("blk.1.attn_qkv.bias")->encoding(), pb::ENCODING_BF16);

  const double p_bf16 = Ppl(bf16), p_q8 = Ppl(q8), p_q4 = Ppl(q4);
  std::printf("ppl bf16 %.4f int8 %.4f int4-g128 %.4f\n", p_bf16, p_q8, p_q4);
  EXPECT_NEAR(p_q8 / p_bf16, 1.0, 0.002);
  EXPECT_NEAR(p_q4 / p_bf16, 1.0, 0.03);
  EXPECT_LT(std::fabs(p_q8 - p_bf16), std::fabs(p_q4 - p_bf16));
}

// A quantized .glmq as the input of the tools that read rows as f32.
TEST(QuantizeCli, QuantizedGlmqInput) {
  std::string out;
  const std::string q8 = TmpPath("src_int8.glmq");
  ASSERT_EQ(Glmq("quantize " + kFixture + " -o " + q8 + " --scheme int8-g32", &out), 0) << out;
  auto f = GlmqFile::Open(q8);
  ASSERT_TRUE(f.ok()) << f.status();
  auto src = OpenGlmqSource(q8);
  ASSERT_TRUE(src.ok()) << src.status();

  // ReadRowsF32 decodes quantized rows: equal to DequantizeTensor of the
  // whole tensor, bit for bit, for a range in the middle.
  for (const char* name : {"token_embd.weight", "blk.2.ffn_down.weight", "output.weight"}) {
    const pb::TensorEntry* e = (*src)->FindTensor(name);
    ASSERT_NE(e, nullptr) << name;
    ASSERT_EQ(e->encoding(), pb::ENCODING_Q8_SYM) << name;
    const int64_t cols = e->shape(1), r0 = 17, r1 = 170;
    std::vector<float> got((r1 - r0) * cols), want(got.size());
    ASSERT_TRUE((*src)->ReadRowsF32(*e, r0, r1, got.data()).ok()) << name;
    ASSERT_TRUE(DequantizeTensor(*e, (*f)->TensorData(*e), r0, r1, want.data()).ok()) << name;
    EXPECT_EQ(got, want) << name;
    EXPECT_FALSE((*src)->ReadRowsF32(*e, r0, e->shape(0) + 1, got.data()).ok()) << name;
  }

  // Quantizing it again to another encoding/group: a clear error naming
  // the file and the first tensor concerned; nothing written.
  const std::string dst = TmpPath("requant.glmq");
  std::remove(dst.c_str());  // a previous run's copy would hide a half-written output
  EXPECT_EQ(Glmq("quantize " + q8 + " -o " + dst + " --scheme int4-g128", &out), 1);
  EXPECT_THAT(out, ::testing::HasSubstr(q8 + ": tensor 'token_embd.weight' is already quantized "
                                        "(q8 g32); re-quantizing it to q8 g128"));
  EXPECT_EQ(Glmq("quantize " + q8 + " -o " + dst + " --scheme int4-g32", &out), 1);
  EXPECT_THAT(out, ::testing::HasSubstr("tensor 'blk.0.attn_qkv.weight' is already quantized"));
  EXPECT_FALSE(std::ifstream(dst).good());

  // The same scheme copies every tensor; decoding to bf16 is allowed.
  ASSERT_EQ(Glmq("quantize " + q8 + " -o " + dst + " --scheme int8-g32", &out), 0) << out;
  auto copy = GlmqFile::Open(dst);
  ASSERT_TRUE(copy.ok()) << copy.status();
  for (const pb::TensorEntry& e : (*f)->metadata().tensors()) {
    const pb::TensorEntry* c = (*copy)->FindTensor(e.name());
    ASSERT_NE(c, nullptr) << e.name();
    EXPECT_EQ(c->xxh64(), e.xxh64()) << e.name();
  }
  const std::string deq = TmpPath("dequant_bf16.glmq");
  ASSERT_EQ(Glmq("quantize " + q8 + " -o " + deq + " --scheme none --tensor-type '.=bf16'", &out),
            0) << out;
  auto d = OpenGlmqSource(deq);
  ASSERT_TRUE(d.ok()) << d.status();
  const pb::TensorEntry* de = (*d)->FindTensor("token_embd.weight");
  ASSERT_EQ(de->encoding(), pb::ENCODING_BF16);
  std::vector<float> a(4 * de->shape(1)), b(a.size());
  ASSERT_TRUE((*d)->ReadRowsF32(*de, 100, 104, a.data()).ok());
  ASSERT_TRUE((*src)->ReadRowsF32(*(*src)->FindTensor("token_embd.weight"), 100, 104, b.data())
                  .ok());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], std::fabs(b[i]) / 256 + 1e-30);

  // glmq calibrate runs the quantized model (quantized embedding lookup).
  const std::string stats = TmpPath("q8.stats");
  EXPECT_EQ(Glmq("calibrate " + q8 + " --text " + std::string(GLMQ_SHARED_DIR) +
                     "/fixtures/text/valid.txt --windows 2 --ctx 64 -o " + stats, &out),
            0) << out;
  EXPECT_TRUE(std::ifstream(stats).good());
  for (const std::string& p : {q8, dst, deq, stats}) std::remove(p.c_str());
}

}  // namespace
}  // namespace glmq
