// Dense CPU kernels: every SIMD level this CPU has against the scalar
// reference, and the CPU backend's ops against naive loops.
// Error budget for a dot product of n terms in f32 with a different
// summation order: |got - ref| <= 1e-6 * sqrt(n) * sum|a_i b_i| + 1e-30,
// well above reordering error (~2^-24 sqrt(n) sum|a_i b_i| typically) and far
// below any real bug (wrong element, wrong row, lost tail: O(|a_i b_i|)).
#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "runtime/buffers.h"
#include "runtime/cpu/cpu_backend.h"
#include "runtime/cpu/kernels.h"
#include "runtime/kv_cache.h"

namespace glmq {
namespace {

std::vector<float> Random(int64_t n, uint32_t seed, float scale = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

std::vector<SimdLevel> Levels() {
  std::vector<SimdLevel> out;
  const CpuFeatures& f = GetCpuFeatures();
  if (f.avx2) out.push_back(SimdLevel::kAvx2);
  if (f.avx512) out.push_back(SimdLevel::kAvx512);
  return out;
}

TEST(DenseKernels, MatMulMatchesScalarForEveryDtypeAndShape) {
  if (Levels().empty()) GTEST_SKIP() << "no SIMD on this CPU";
  struct Shape { int64_t tokens, rows, cols; };
  // Decode (tokens < 4: the 4-row GEMV and its row/column tails, e.g. cols 48
  // = 32 + 16 on AVX-512) and prefill (4-token micro-kernel, token tails).
  const Shape shapes[] = {{1, 7, 37}, {1, 64, 256}, {1, 9, 48}, {2, 13, 80}, {5, 9, 48},
                          {4, 3, 16}, {70, 33, 100}, {130, 17, 640}, {3, 1, 5}, {8, 6, 24},
                          {1, 29, 88}, {2, 25, 72}};  // 12- and 8-row GEMV passes + tails
  for (SimdLevel level : Levels()) {
    const cpu::DenseKernels& k = cpu::GetDenseKernels(level);
    ASSERT_EQ(k.level, level);
    for (DType dt : {DType::kF32, DType::kF16, DType::kBF16}) {
      for (const Shape& s : shapes) {
        const std::vector<float> wf = Random(s.rows * s.cols, 1);
        std::vector<uint8_t> w(s.rows * s.cols * DTypeSize(dt));
        ConvertFromF32(dt, wf.data(), w.data(), s.rows * s.cols);
        std::vector<float> wr(s.rows * s.cols);
        ConvertToF32(dt, w.data(), wr.data(), s.rows * s.cols);
        const std::vector<float> x = Random(s.tokens * s.cols, 2);
        std::vector<float> ref(s.tokens * s.rows, NAN), got(s.tokens * s.rows, NAN);
        cpu::ScalarKernels().matmul_rows(dt, w.data(), s.cols, x.data(), s.tokens, ref.data(),
                                         s.rows, 0, s.rows);
        k.matmul_rows(dt, w.data(), s.cols, x.data(), s.tokens, got.data(), s.rows, 0, s.rows);
        for (int64_t t = 0; t < s.tokens; ++t) {
          for (int64_t r = 0; r < s.rows; ++r) {
            double l1 = 0;
            for (int64_t c = 0; c < s.cols; ++c) l1 += std::abs(wr[r * s.cols + c] * x[t * s.cols + c]);
            const double budget = 1e-6 * std::sqrt(double(s.cols)) * l1 + 1e-30;
            ASSERT_LE(std::abs(got[t * s.rows + r] - ref[t * s.rows + r]), budget)
                << SimdLevelName(level) << " " << Traits(dt).name << " t=" << t << " r=" << r
                << " shape " << s.tokens << "x" << s.rows << "x" << s.cols;
          }
        }
      }
    }
  }
}

TEST(DenseKernels, DotAndAxpyMatchScalar) {
  for (SimdLevel level : Levels()) {
    const cpu::DenseKernels& k = cpu::GetDenseKernels(level);
    for (int64_t n : {1, 4, 15, 16, 17, 32, 128, 131}) {
      const std::vector<float> a = Random(n, 3), b = Random(n, 4);
      double l1 = 0;
      for (int64_t i = 0; i < n; ++i) l1 += std::abs(a[i] * b[i]);
      EXPECT_NEAR(k.dot(a.data(), b.data(), n), cpu::ScalarKernels().dot(a.data(), b.data(), n),
                  1e-6 * std::sqrt(double(n)) * l1 + 1e-30);
      std::vector<float> y1 = b, y2 = b;
      cpu::ScalarKernels().axpy(0.3f, a.data(), y1.data(), n);
      k.axpy(0.3f, a.data(), y2.data(), n);
      // One FMA vs multiply-then-add: at most one rounding apart.
      for (int64_t i = 0; i < n; ++i) EXPECT_NEAR(y1[i], y2[i], 1e-6f);
    }
  }
}

TEST(CpuBackend, MatMulSplitsRowsOverThreadsExactly) {
  // Same kernels, 1 vs 3 threads: the split must not change any result.
  const int64_t rows = 1001, cols = 256, tokens = 6;  // above the parallel threshold
  const std::vector<float> w = Random(rows * cols, 5), x = Random(tokens * cols, 6);
  const WeightView v =
      *MakeWeightView("w", pb::ENCODING_F32, 0, {rows, cols}, w.data(), w.size() * 4);
  std::vector<float> y1(tokens * rows), y3(tokens * rows);
  CpuBackend one(1), three(3);
  ASSERT_TRUE(one.MatMul(v, x.data(), tokens, y1.data()).ok());
  ASSERT_TRUE(three.MatMul(v, x.data(), tokens, y3.data()).ok());
  EXPECT_EQ(y1, y3);
  EXPECT_FALSE(MakeWeightView("w", pb::ENCODING_F32, 0, {rows, cols}, w.data(), w.size() * 4 - 4)
                   .ok())
      << "a size mismatch is refused when the view is made";
}

TEST(CpuBackend, RopeRotatesInterleavedPairsOfTheFirstRopeDims) {
  CpuBackend be(1);
  // One head of 8 dims, rope_dims 4: pairs (0,1), (2,3) rotate; 4..7 pass.
  std::vector<float> x = {1, 0, 1, 0, 5, 6, 7, 8};
  be.Rope(x.data(), 8, 1, 1, 8, 4, /*pos0=*/3, /*base=*/100.0);
  // pair 0: angle 3 * 100^0 = 3; pair 1: angle 3 / 100^(2/4) = 0.3.
  EXPECT_NEAR(x[0], std::cos(3.0), 1e-6);
  EXPECT_NEAR(x[1], std::sin(3.0), 1e-6);
  EXPECT_NEAR(x[2], std::cos(0.3), 1e-6);
  EXPECT_NEAR(x[3], std::sin(0.3), 1e-6);
  EXPECT_EQ(x[4], 5);
  EXPECT_EQ(x[7], 8);
}

TEST(CpuBackend, AttentionIsCausalSoftmaxWithGqaGroups) {
  CpuBackend be(2);
  const AttentionShape s{4, 2, 3};  // heads 0,1 -> kv 0; heads 2,3 -> kv 1
  const int64_t ctx = 5, n = 3;
  const std::vector<float> kv_rows = Random(n * 2 * 2 * 3, 7);  // [n, (k|v), kv_heads*3]
  KvCache kv(&be, KvLayout{KvType::kF32, 1, 2, 3});
  ASSERT_TRUE(kv.Reserve(ctx).ok());
  be.WriteKv(kv_rows.data(), kv_rows.data() + 6, 12, n, s, 0, kv.View(0));
  const std::vector<float> q = Random(n * 12, 8);
  std::vector<float> out(n * 12), scratch(AttentionScratchFloats({4, 2, 3}, be.n_threads()));
  be.Attention(q.data(), 12, n, s, 0, kv.View(0), scratch.data(), out.data());
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t h = 0; h < 4; ++h) {
      const int64_t g = h / 2;
      std::vector<double> p(t + 1);
      double mx = -1e30, sum = 0;
      for (int64_t j = 0; j <= t; ++j) {
        double d = 0;
        for (int i = 0; i < 3; ++i) d += q[t * 12 + h * 3 + i] * kv_rows[j * 12 + g * 3 + i];
        p[j] = d / std::sqrt(3.0);
        mx = std::max(mx, p[j]);
      }
      for (double& e : p) sum += (e = std::exp(e - mx));
      for (int i = 0; i < 3; ++i) {
        double o = 0;
        for (int64_t j = 0; j <= t; ++j) o += p[j] / sum * kv_rows[j * 12 + 6 + g * 3 + i];
        EXPECT_NEAR(out[t * 12 + h * 3 + i], o, 1e-6) << "t=" << t << " h=" << h;
      }
    }
  }
}

TEST(CpuBackend, AnEncodingItCannotMultiplyFailsCleanly) {
  CpuBackend be(1);
  std::vector<uint8_t> w(4 * 64 * 4);
  std::vector<float> x(64), y(4);
  const WeightView v = *MakeWeightView("blk.0.w", pb::ENCODING_I32, 0, {4, 64}, w.data(), w.size());
  const absl::Status s = be.MatMul(v, x.data(), 1, y.data());
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("blk.0.w"), std::string::npos) << s;
}

TEST(Buffers, SizesFollowTheHyperparameters) {
  pb::HParams hp;
  hp.set_n_layers(40);
  hp.set_hidden_size(4096);
  hp.set_n_heads(32);
  hp.set_n_kv_heads(2);
  hp.set_head_dim(128);
  hp.set_ffn_hidden_size(13696);
  hp.set_padded_vocab_size(151552);
  BufferConfig c;
  c.max_context = 8192;
  c.prefill_chunk = 512;
  c.kv_type = KvType::kF16;
  c.n_threads = 2;
  auto s = ComputeBufferSizes(hp, c);
  ASSERT_TRUE(s.ok()) << s.status();
  // glm-4-9b: 40 layers * 2 * 2 kv heads * 8192 * 128 * 2 bytes = 320 MiB.
  EXPECT_EQ(s->kv_cache_bytes, 40ull * 2 * 2 * 8192 * 128 * 2);
  // No buffer but the KV cache depends on the context length.
  EXPECT_EQ(s->Get("attn_scratch"),
            4u * AttentionScratchFloats({32, 2, 128}, 2));
  EXPECT_EQ(s->Get("ffn_gate_up"), 512ull * 2 * 13696 * 4);
  EXPECT_EQ(s->Get("logits"), 512ull * 151552 * 4);
  uint64_t sum = 0;
  for (const NamedBuffer& b : s->buffers) sum += b.bytes;
  EXPECT_EQ(sum, s->total_bytes());
  c.max_context = 1000;  // 4 blocks of 256 positions
  c.kv_type = KvType::kInt8;
  auto s8 = ComputeBufferSizes(hp, c);
  ASSERT_TRUE(s8.ok()) << s8.status();
  EXPECT_EQ(s8->kv_cache_bytes, 40ull * 2 * 2 * (128 + 2) * 1024);
  EXPECT_EQ(s8->working_bytes, s->working_bytes);
  c.kv_type = KvType::kF32;
  hp.set_n_kv_heads(3);
  EXPECT_FALSE(ComputeBufferSizes(hp, c).ok());
}

}  // namespace
}  // namespace glmq
