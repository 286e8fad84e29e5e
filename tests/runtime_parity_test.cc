// Parity with the real GLM-4 (ChatGLM layout) forward pass:
// ../shared/reference/chatglm4-real (README there). The model is built in
// memory from the raw file; y1 (3-token prefill), y2 and y3 (cached decode
// steps) must match to 1e-5 absolute, on every SIMD level of this CPU.
#include <cstring>
#include <string>
#include <vector>

#include "core/file.h"
#include "gtest/gtest.h"
#include "runtime/cpu/cpu_backend.h"
#include "runtime/model.h"
#include "runtime/session.h"

namespace glmq {
namespace {

constexpr int64_t kHidden = 32, kHeads = 8, kKv = 2, kHeadDim = 4, kFfn = 48, kVocab = 5;

pb::HParams RealHParams() {
  pb::HParams hp;
  hp.set_layout(pb::LAYOUT_CHATGLM);
  hp.set_n_layers(1);
  hp.set_hidden_size(kHidden);
  hp.set_n_heads(kHeads);
  hp.set_n_kv_heads(kKv);
  hp.set_head_dim(kHeadDim);
  hp.set_ffn_hidden_size(kFfn);
  hp.set_vocab_size(kVocab);
  hp.set_padded_vocab_size(kVocab);
  hp.set_max_context(131072);
  hp.set_rope_base(10000.0 * 500);
  hp.set_rope_dims(kHeadDim / 2);
  hp.set_rope_interleaved(true);
  hp.set_norm_eps(1.5625e-07);
  hp.set_norms_per_layer(2);
  hp.set_qkv_bias(true);
  return hp;
}

struct Reference {
  std::unique_ptr<InMemoryWeightSource> weights;
  std::vector<float> y1, y2, y3;
};

// Reads the raw concatenation in README order.
Reference LoadReference(const std::string& bytes) {
  Reference r;
  r.weights = std::make_unique<InMemoryWeightSource>(RealHParams());
  size_t off = 0;
  auto take = [&](int64_t n) {
    std::vector<float> v(n);
    EXPECT_LE(off + n * 4, bytes.size());
    if (off + n * 4 <= bytes.size()) std::memcpy(v.data(), bytes.data() + off, n * 4);
    off += n * 4;
    return v;
  };
  const int64_t qkv = (kHeads + 2 * kKv) * kHeadDim;
  InMemoryWeightSource& w = *r.weights;
  w.AddF32("token_embd.weight", {kVocab, kHidden}, take(kVocab * kHidden));
  w.AddF32("blk.0.attn_norm.weight", {kHidden}, take(kHidden));
  w.AddF32("blk.0.attn_qkv.weight", {qkv, kHidden}, take(qkv * kHidden));
  w.AddF32("blk.0.attn_qkv.bias", {qkv}, take(qkv));
  w.AddF32("blk.0.attn_output.weight", {kHidden, kHeads * kHeadDim},
           take(kHidden * kHeads * kHeadDim));
  w.AddF32("blk.0.ffn_norm.weight", {kHidden}, take(kHidden));
  w.AddF32("blk.0.ffn_gate_up.weight", {2 * kFfn, kHidden}, take(2 * kFfn * kHidden));
  w.AddF32("blk.0.ffn_down.weight", {kHidden, kFfn}, take(kHidden * kFfn));
  w.AddF32("output_norm.weight", {kHidden}, take(kHidden));
  // No output projection in a ChatGLMModel: reuse the embedding (unused here).
  w.AddF32("output.weight", {kVocab, kHidden}, std::vector<float>(kVocab * kHidden, 0.f));
  off += 3 * 4;  // x1
  r.y1 = take(3 * kHidden);
  off += 4;  // x2
  r.y2 = take(kHidden);
  off += 4;  // x3
  r.y3 = take(kHidden);
  EXPECT_EQ(off, bytes.size());
  return r;
}

void ExpectNear(const std::vector<float>& got, const std::vector<float>& want, const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  float worst = 0.f;
  for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::abs(got[i] - want[i]));
  EXPECT_LE(worst, 1e-5f) << what << ": max abs diff " << worst;
}

class RealParity : public ::testing::TestWithParam<SimdLevel> {};

TEST_P(RealParity, PrefillAndCachedDecodeMatchReference) {
  absl::StatusOr<std::string> bytes =
      ReadFileToString(std::string(GLMQ_SHARED_DIR) + "/reference/chatglm4-real/glm4_model.data");
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  ASSERT_EQ(bytes->size(), 30548u);
  Reference ref = LoadReference(*bytes);
  auto model = Model::Load(std::move(ref.weights),
                           std::make_unique<CpuBackend>(2, &cpu::GetDenseKernels(GetParam())));
  ASSERT_TRUE(model.ok()) << model.status();
  SessionOptions opt;
  opt.max_context = 16;
  opt.prefill_chunk = 2;  // the 3-token prefill runs as two chunks
  auto session = Session::Create(model->get(), opt);
  ASSERT_TRUE(session.ok()) << session.status();
  std::vector<float> h;
  const std::vector<int32_t> x1 = {0, 1, 2};
  ASSERT_TRUE((*session)->Forward(x1, ForwardOutput::kAllHidden, &h).ok());
  ExpectNear(h, ref.y1, "y1");
  const std::vector<int32_t> x2 = {3}, x3 = {4};
  ASSERT_TRUE((*session)->Forward(x2, ForwardOutput::kAllHidden, &h).ok());
  ExpectNear(h, ref.y2, "y2");
  ASSERT_TRUE((*session)->Forward(x3, ForwardOutput::kAllHidden, &h).ok());
  ExpectNear(h, ref.y3, "y3");
  // Past the end of the context: an error, not a crash.
  std::vector<int32_t> many(12, 1);
  EXPECT_FALSE((*session)->Forward(many, ForwardOutput::kNone, nullptr).ok());
  // Out-of-range token id.
  const std::vector<int32_t> bad = {7};
  EXPECT_FALSE((*session)->Forward(bad, ForwardOutput::kNone, nullptr).ok());
}

TEST(RealParity, KvCacheInHalfPrecisionStaysClose) {
  absl::StatusOr<std::string> bytes =
      ReadFileToString(std::string(GLMQ_SHARED_DIR) + "/reference/chatglm4-real/glm4_model.data");
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  Reference ref = LoadReference(*bytes);
  auto model = Model::Load(std::move(ref.weights));
  ASSERT_TRUE(model.ok()) << model.status();
  for (KvType kv : {KvType::kF16, KvType::kBF16}) {
    SessionOptions opt;
    opt.max_context = 8;
    opt.kv_type = kv;
    auto session = Session::Create(model->get(), opt);
    ASSERT_TRUE(session.ok()) << session.status();
    std::vector<float> h;
    const std::vector<int32_t> x = {0, 1, 2, 3, 4};
    ASSERT_TRUE((*session)->Forward(x, ForwardOutput::kAllHidden, &h).ok());
    float worst = 0.f;
    for (int i = 0; i < kHidden; ++i) worst = std::max(worst, std::abs(h[4 * kHidden + i] - ref.y3[i]));
    // bf16 keeps 8 significant bits: K/V rounding moves outputs by ~1e-2.
    EXPECT_LE(worst, kv == KvType::kF16 ? 5e-3f : 5e-2f) << Traits(kv).name;
    EXPECT_GT(worst, 0.f) << "a lossy KV cache cannot be exact";
  }
}

INSTANTIATE_TEST_SUITE_P(Levels, RealParity,
                         ::testing::Values(SimdLevel::kScalar, SimdLevel::kAvx2, SimdLevel::kAvx512),
                         [](const auto& info) { return SimdLevelName(info.param); });

}  // namespace
}  // namespace glmq
