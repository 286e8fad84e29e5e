// CUDA vs CPU on the three text fixtures (chatglm, glm and glm4 layouts)
// in bf16, int8, int4-g128, int4a-g32, a GPTQ int4-g128 file and an int4-g128
// file with kept columns (--keep-outliers 4), on
// valid.txt: perplexity within 0.1 %, mean KL(CUDA || CPU) <= 1e-4, top-1
// agreement >= 99.5 %; greedy generation of 32 tokens identical; chunked
// prefill equal to one-shot prefill; int8 KV within mean KL 1e-3 of bf16 KV. Label `cuda`: skips when no device is
// present (bench/cuda_check.sh runs it on a GPU machine).
#include <cmath>
#include <map>
#include <tuple>

#include "core/file.h"
#include "gtest/gtest.h"
#include "runtime/cuda/cuda_backend.h"
#include "runtime/eval.h"
#include "runtime/loaded_model.h"
#include "runtime/session.h"
#include "tests/calib_e2e_util.h"

namespace glmq {
namespace {

using namespace calib_e2e;  // NOLINT

// The fixture converted, then quantized with `scheme` ("bf16": as
// converted; "gptq": int4-g128 by GPTQ on calibration statistics; "keep4":
// int4-g128 rtn with 4 input columns per linear kept at f16).
std::string ModelFile(const std::string& fixture, const std::string& scheme) {
  static std::map<std::string, std::string> made;
  const std::string key = fixture + "/" + scheme;
  if (made.count(key)) return made[key];
  const std::string bf16 = made.count(fixture) ? made[fixture] : (made[fixture] = Convert(fixture));
  if (scheme == "bf16") return made[key] = bf16;
  const std::string out = Dir() + "/" + fixture + "." + scheme + ".glmq";
  std::string args = "quantize " + bf16 + " -o " + out;
  if (scheme == "gptq") {
    args += " --scheme int4-g128 --method gptq --calib " + Calibrate(bf16, fixture + ".calib");
  } else if (scheme == "keep4") {
    args += " --scheme int4-g128 --keep-outliers 4 --calib " +
            Calibrate(bf16, fixture + ".calib");
  } else {
    args += " --scheme " + scheme;
  }
  std::string log;
  EXPECT_EQ(Glmq(args, &log), 0) << log;
  return made[key] = out;
}

std::unique_ptr<Session> NewSession(const Model& m, int64_t ctx, int64_t chunk,
                                    KvType kv = KvType::kF32) {
  SessionOptions so;
  so.max_context = ctx;
  so.prefill_chunk = chunk;
  so.kv_type = kv;
  auto s = Session::Create(&m, so);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? std::move(*s) : nullptr;
}

std::vector<int32_t> Greedy(Session& s, const std::vector<int32_t>& prompt, int n) {
  std::vector<int32_t> out;
  std::vector<float> logits;
  std::vector<int32_t> next = prompt;
  for (int i = 0; i < n; ++i) {
    const absl::Status st = s.Forward(next, ForwardOutput::kLastLogits, &logits);
    EXPECT_TRUE(st.ok()) << st;
    if (!st.ok()) break;
    const int32_t id = static_cast<int32_t>(
        std::max_element(logits.begin(), logits.end()) - logits.begin());
    out.push_back(id);
    next = {id};
  }
  return out;
}

class CudaParityTest : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {
 protected:
  void SetUp() override {
    if (CudaDeviceCount() == 0) {
      GTEST_SKIP() << "no CUDA device present: the `cuda` tests run on a GPU machine "
                      "(bench/cuda_check.sh)";
    }
    const auto& [fixture, scheme] = GetParam();
    const std::string path = ModelFile(fixture, scheme);
    auto cpu = LoadGlmqModel(path, 0, "", DeviceSpec{});
    auto gpu = LoadGlmqModel(path, 0, "", DeviceSpec{DeviceSpec::kCuda, 0});
    ASSERT_TRUE(cpu.ok()) << cpu.status();
    ASSERT_TRUE(gpu.ok()) << gpu.status();
    cpu_ = std::move(*cpu);
    gpu_ = std::move(*gpu);
    auto text = ReadFileToString(kShared + "/fixtures/text/valid.txt");
    ASSERT_TRUE(text.ok());
    tokens_ = cpu_.tokenizer->Encode(*text, false);
  }
  LoadedModel cpu_, gpu_;
  std::vector<int32_t> tokens_;
};

TEST_P(CudaParityTest, PerplexityKlAndTop1OnValidText) {
  PplOptions opt;
  opt.ctx = 256;
  auto gs = NewSession(*gpu_.model, opt.ctx, opt.ctx);
  auto cs = NewSession(*cpu_.model, opt.ctx, opt.ctx);
  auto r = KlDivergence(*gs, *cs, tokens_, opt);
  ASSERT_TRUE(r.ok()) << r.status();
  std::printf("%s %s: ppl cuda %.5f cpu %.5f, mean KL %.3g, top-1 %.4f over %lld\n",
              std::get<0>(GetParam()).c_str(), std::get<1>(GetParam()).c_str(),
              r->ref_nll.ppl(), r->model_nll.ppl(), r->mean_kld, r->top1_agreement,
              static_cast<long long>(r->tokens));
  EXPECT_LT(std::fabs(r->ref_nll.ppl() / r->model_nll.ppl() - 1), 1e-3);
  EXPECT_LE(r->mean_kld, 1e-4);
  EXPECT_GE(r->top1_agreement, 0.995);
  EXPECT_FALSE(r->ref_non_finite);
}

TEST_P(CudaParityTest, GreedyGenerationIsIdentical) {
  const std::vector<int32_t> prompt(tokens_.begin(), tokens_.begin() + 24);
  auto gs = NewSession(*gpu_.model, 128, 64);
  auto cs = NewSession(*cpu_.model, 128, 64);
  EXPECT_EQ(Greedy(*gs, prompt, 32), Greedy(*cs, prompt, 32));
}

TEST_P(CudaParityTest, ChunkedPrefillEqualsOneShot) {
  const std::vector<int32_t> prompt(tokens_.begin(), tokens_.begin() + 200);
  auto one = NewSession(*gpu_.model, 256, 256);
  auto chunked = NewSession(*gpu_.model, 256, 48);
  std::vector<float> a, b;
  ASSERT_TRUE(one->Forward(prompt, ForwardOutput::kAllLogits, &a).ok());
  ASSERT_TRUE(chunked->Forward(prompt, ForwardOutput::kAllLogits, &b).ok());
  ASSERT_EQ(a.size(), b.size());
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, double(std::fabs(a[i] - b[i])));
  EXPECT_LT(worst, 1e-3) << "max |one-shot - chunked| logit";
}

TEST_P(CudaParityTest, Int8KvStaysCloseToBf16Kv) {
  PplOptions opt;
  opt.ctx = 256;
  auto bf16 = NewSession(*gpu_.model, opt.ctx, opt.ctx, KvType::kBF16);
  auto int8 = NewSession(*gpu_.model, opt.ctx, opt.ctx, KvType::kInt8);
  auto r = KlDivergence(*bf16, *int8, tokens_, opt);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_LE(r->mean_kld, 1e-3);
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, CudaParityTest,
    ::testing::Combine(::testing::Values("glm4-tiny-chat", "glm4-tiny-chat-hf", "glm4-tiny-0414"),
                       ::testing::Values("bf16", "int8", "int4-g128", "int4a-g32", "gptq",
                                         "keep4")),
    [](const auto& info) {
      std::string s = std::get<0>(info.param) + "_" + std::get<1>(info.param);
      for (char& c : s) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
      return s;
    });

}  // namespace
}  // namespace glmq
