// The CUDA backend against the CPU backend, op by op, on random data:
// MatMul for every encoding (GEMV up to kMaxGemvTokens tokens, cuBLAS
// GEMM above), embedding, the fused elementwise ops, KV writes and
// attention (decode and prefill, GQA), and a clean out-of-memory error.
// Label `cuda`: skips when no device is present.
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "quant/reference.h"
#include "runtime/attention_tiling.h"
#include "runtime/cpu/cpu_backend.h"
#include "runtime/kv_cache.h"
#include "runtime/cuda/cuda_backend.h"
#include "schema/encodings.h"

namespace glmq {
namespace {

class CudaOpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (CudaDeviceCount() == 0) {
      GTEST_SKIP() << "no CUDA device present: the `cuda` tests run on a GPU machine "
                      "(bench/cuda_check.sh)";
    }
    auto b = MakeCudaBackend(0);
    ASSERT_TRUE(b.ok()) << b.status();
    gpu_ = std::move(*b);
  }
  // A device copy of host floats (freed with the fixture).
  float* Up(const std::vector<float>& h) {
    auto p = gpu_->AllocateFloats(h.size());
    EXPECT_TRUE(p.ok()) << p.status();
    EXPECT_TRUE(gpu_->CopyFromHost(h.data(), h.size(), *p).ok());
    held_.push_back(*p);
    return *p;
  }
  float* Zeros(int64_t n) { return Up(std::vector<float>(n, 0.f)); }
  std::vector<float> Down(const float* d, int64_t n) {
    std::vector<float> h(n);
    const absl::Status s = gpu_->CopyToHost(d, n, h.data());
    EXPECT_TRUE(s.ok()) << s;
    return h;
  }
  void TearDown() override {
    for (float* p : held_) gpu_->FreeFloats(p);
  }
  static std::vector<float> Random(int64_t n, uint32_t seed, float scale = 1.f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.f, scale);
    std::vector<float> v(n);
    for (float& x : v) x = nd(rng);
    return v;
  }
  static void ExpectNear(const std::vector<float>& a, const std::vector<float>& b, float rel,
                         const std::string& what) {
    ASSERT_EQ(a.size(), b.size()) << what;
    float amax = 0.f;
    for (float x : b) amax = std::max(amax, std::fabs(x));
    for (size_t i = 0; i < a.size(); ++i) {
      ASSERT_NEAR(a[i], b[i], rel * std::max(amax, 1e-6f)) << what << " at " << i;
    }
  }

  std::unique_ptr<Backend> gpu_;
  CpuBackend cpu_{1};
  std::vector<float*> held_;
};

struct Enc {
  pb::Encoding e;
  int g;
};

std::vector<uint8_t> Encode(const Enc& enc, const std::vector<float>& w, int64_t rows,
                            int64_t cols) {
  DType dt;
  if (DenseDType(enc.e, &dt)) {
    std::vector<uint8_t> out(rows * cols * DTypeSize(dt));
    ConvertFromF32(dt, w.data(), out.data(), rows * cols);
    return out;
  }
  const GroupGeometry geo = GetGroupGeometry(enc.e, enc.g, cols).value();
  std::vector<uint8_t> out(rows * geo.row_bytes);
  for (int64_t r = 0; r < rows; ++r) {
    QuantizeRowRef(geo, w.data() + r * cols, cols, out.data() + r * geo.row_bytes);
  }
  return out;
}

TEST_F(CudaOpsTest, MatMulMatchesCpuForEveryEncoding) {
  const std::vector<Enc> encs = {{pb::ENCODING_F32, 0},      {pb::ENCODING_F16, 0},
                                 {pb::ENCODING_BF16, 0},     {pb::ENCODING_Q8_SYM, 32},
                                 {pb::ENCODING_Q8_SYM, 128}, {pb::ENCODING_Q4_SYM, 32},
                                 {pb::ENCODING_Q4_SYM, 64},  {pb::ENCODING_Q4_SYM, 128},
                                 {pb::ENCODING_Q4_ASYM, 32}, {pb::ENCODING_Q4_ASYM, 128},
                                 {pb::ENCODING_Q4_SYM, 0}};
  const int64_t rows = 200, cols = 384;
  const std::vector<float> wf = Random(rows * cols, 1, 0.05f);
  for (const Enc& enc : encs) {
    const std::vector<uint8_t> bytes = Encode(enc, wf, rows, cols);
    const WeightView w =
        MakeWeightView("w", enc.e, enc.g, {rows, cols}, bytes.data(), bytes.size()).value();
    for (int64_t n : {1, 3, 8, 37}) {
      const std::string what = absl::StrCat(pb::Encoding_Name(enc.e), " g", enc.g, " n ", n);
      const std::vector<float> x = Random(n * cols, 7 + n);
      std::vector<float> want(n * rows);
      ASSERT_TRUE(cpu_.MatMul(w, x.data(), n, want.data()).ok());
      float* y = Zeros(n * rows);
      const absl::Status s = gpu_->MatMul(w, Up(x), n, y);
      ASSERT_TRUE(s.ok()) << what << ": " << s;
      // The CPU quantizes activations to int8 for q8/q4 weights; the GPU
      // keeps them f32 (GEMV) or bf16 (GEMM).
      ExpectNear(Down(y, n * rows), want, 2e-2f, what);
    }
  }
}

TEST_F(CudaOpsTest, ElementwiseOpsMatchCpu) {
  const int64_t n = 5, dim = 96, heads = 4, head_dim = 24, rope_dims = 12;
  const std::vector<float> x = Random(n * dim, 3), w = Random(dim, 4), b = Random(dim, 5);
  std::vector<float> want(n * dim);
  cpu_.RmsNorm(x.data(), w.data(), n, dim, 1e-5f, want.data());
  float* out = Zeros(n * dim);
  gpu_->RmsNorm(Up(x), w.data(), n, dim, 1e-5f, out);
  ExpectNear(Down(out, n * dim), want, 1e-5f, "RmsNorm");

  std::vector<float> y = x;
  cpu_.AddBias(y.data(), b.data(), n, dim);
  float* dy = Up(x);
  gpu_->AddBias(dy, b.data(), n, dim);
  ExpectNear(Down(dy, n * dim), y, 1e-6f, "AddBias");

  std::vector<float> r = x;
  cpu_.Rope(r.data(), dim, n, heads, head_dim, rope_dims, 1000, 10000.0);
  float* dr = Up(x);
  gpu_->Rope(dr, dim, n, heads, head_dim, rope_dims, 1000, 10000.0);
  ExpectNear(Down(dr, n * dim), r, 1e-5f, "Rope");

  std::vector<float> s(n * dim / 2);
  cpu_.SwiGlu(x.data(), n, dim / 2, s.data());
  float* ds = Zeros(n * dim / 2);
  gpu_->SwiGlu(Up(x), n, dim / 2, ds);
  ExpectNear(Down(ds, n * dim / 2), s, 1e-5f, "SwiGlu");
  ASSERT_TRUE(gpu_->Sync().ok());
}

TEST_F(CudaOpsTest, EmbeddingMatchesCpu) {
  const int64_t rows = 50, cols = 160;
  const std::vector<float> wf = Random(rows * cols, 9);
  const std::vector<int32_t> ids = {0, 49, 7, 7, 13};
  for (const Enc& enc : std::vector<Enc>{{pb::ENCODING_BF16, 0}, {pb::ENCODING_Q8_SYM, 32},
                                         {pb::ENCODING_Q4_ASYM, 32}}) {
    const std::vector<uint8_t> bytes = Encode(enc, wf, rows, cols);
    const WeightView w =
        MakeWeightView("e", enc.e, enc.g, {rows, cols}, bytes.data(), bytes.size()).value();
    std::vector<float> want(ids.size() * cols);
    ASSERT_TRUE(cpu_.Embedding(w, ids.data(), ids.size(), want.data()).ok());
    float* out = Zeros(want.size());
    ASSERT_TRUE(gpu_->Embedding(w, ids.data(), ids.size(), out).ok());
    ExpectNear(Down(out, want.size()), want, 0.f, pb::Encoding_Name(enc.e));
  }
}

TEST_F(CudaOpsTest, AttentionMatchesCpuForDecodeAndPrefill) {
  const AttentionShape s{8, 2, 64};
  const int64_t ctx = 700, qkv = (s.n_heads + 2 * s.n_kv_heads) * s.head_dim;
  pb::HParams hp;
  hp.set_n_layers(2);
  hp.set_n_heads(s.n_heads);
  hp.set_n_kv_heads(s.n_kv_heads);
  hp.set_head_dim(s.head_dim);
  std::vector<float> scratch(
      AttentionScratchFloats(AttentionTiling{s.n_heads, s.n_kv_heads, s.head_dim}, 1));
  for (KvType type : {KvType::kF32, KvType::kBF16, KvType::kInt8}) {
    auto layout = MakeKvLayout(hp, type);
    ASSERT_TRUE(layout.ok()) << layout.status();
    KvCache host(&cpu_, *layout), dev(gpu_.get(), *layout);
    ASSERT_TRUE(host.Reserve(ctx).ok());
    ASSERT_TRUE(dev.Reserve(ctx).ok());
    int64_t pos = 0;
    for (int64_t n : {300, 1, 37, 1}) {  // prefill, decode, a chunk, decode
      const std::vector<float> rows = Random(n * qkv, 100 + pos);
      const float* q = rows.data();
      const int64_t k_off = s.n_heads * s.head_dim, v_off = k_off + s.n_kv_heads * s.head_dim;
      cpu_.WriteKv(q + k_off, q + v_off, qkv, n, s, pos, host.View(1));
      std::vector<float> want(n * s.n_heads * s.head_dim);
      cpu_.Attention(q, qkv, n, s, pos, host.View(1), scratch.data(), want.data());
      float* dq = Up(rows);
      gpu_->WriteKv(dq + k_off, dq + v_off, qkv, n, s, pos, dev.View(1));
      float* out = Zeros(want.size());
      gpu_->Attention(dq, qkv, n, s, pos, dev.View(1), nullptr, out);
      ExpectNear(Down(out, want.size()), want, type == KvType::kInt8 ? 1e-3f : 1e-4f,
                 absl::StrCat(Traits(type).name, " n ", n, " at ", pos));
      pos += n;
    }
  }
}

TEST_F(CudaOpsTest, OutOfMemoryIsACleanError) {
  auto p = gpu_->AllocateFloats(int64_t{1} << 45);  // 128 TiB
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(p.status().message().find("bytes of device memory"), absl::string_view::npos)
      << p.status();
  auto q = gpu_->AllocateFloats(1024);  // the device is still usable
  ASSERT_TRUE(q.ok());
  gpu_->FreeFloats(*q);
}

}  // namespace
}  // namespace glmq
