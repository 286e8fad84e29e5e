// QuantMatMul: every SIMD level the CPU has against the scalar reference,
// and the scalar reference against an f64 product of the dequantized
// weights. Budgets: SIMD vs scalar differ only in f32 summation order
// (int32 block products are exact, the activations are quantized to the
// same bits): |dy| <= 2e-6 * sum|w x| + 1e-7.
// Scalar vs exact: activation rounding, |dy| <= sum_c |w_c| amax_b(c)/254
// plus f32 slack.
#include "runtime/cpu/qmatmul.h"

#include <cmath>
#include <random>
#include <vector>

#include "core/cpu_features.h"
#include "gtest/gtest.h"
#include "quant/dequantize.h"
#include "quant/quantize.h"
#include "runtime/cpu/qmatmul_internal.h"

namespace glmq {
namespace {

struct Problem {
  QuantSpec spec;
  int64_t rows, cols;
  std::vector<uint8_t> q;
  std::vector<float> deq;
  WeightView view() const {
    return *MakeWeightView("w", spec.encoding, spec.group_size, {rows, cols}, q.data(), q.size());
  }
};

Problem Make(pb::Encoding e, int g, int64_t rows, int64_t cols, uint32_t seed) {
  Problem p{{e, g, 2}, rows, cols, {}, {}};
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 0.05f);
  std::vector<float> w(rows * cols);
  for (auto& v : w) v = d(rng) + (e == pb::ENCODING_Q4_ASYM ? 0.02f : 0.f);
  p.q.resize(*QuantizedBytes(p.spec, rows, cols));
  EXPECT_TRUE(QuantizeMatrix(w.data(), rows, cols, p.spec, nullptr, p.q.data(), nullptr).ok());
  p.deq.resize(rows * cols);
  EXPECT_TRUE(DequantizeRows(e, g, rows, cols, p.q, 0, rows, p.deq.data()).ok());
  return p;
}

std::vector<float> Activations(int64_t n_tokens, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> x(n_tokens * cols);
  for (auto& v : x) v = d(rng);
  if (cols > 10) x[7] = 25.f;  // an outlier channel, as in real activations
  return x;
}

void Check(const Problem& p, int64_t n_tokens, uint32_t seed, int n_threads = 0) {
  SCOPED_TRACE(testing::Message() << "enc " << p.spec.encoding << " g" << p.spec.group_size
                                  << " rows " << p.rows << " cols " << p.cols << " tokens "
                                  << n_tokens << " threads " << n_threads);
  const std::vector<float> x = Activations(n_tokens, p.cols, seed);
  std::vector<float> ys(n_tokens * p.rows);
  ASSERT_EQ(*QuantMatMulAtLevel(SimdLevel::kScalar, p.view(), x.data(), n_tokens, ys.data()),
            SimdLevel::kScalar);
  for (int64_t t = 0; t < n_tokens; ++t)
    for (int64_t r = 0; r < p.rows; ++r) {
      double exact = 0, abs_sum = 0, bound = 0;
      const float* xt = x.data() + t * p.cols;
      for (int64_t c = 0; c < p.cols; ++c) {
        exact += static_cast<double>(p.deq[r * p.cols + c]) * xt[c];
        abs_sum += std::fabs(static_cast<double>(p.deq[r * p.cols + c]) * xt[c]);
        double amax = 0;
        for (int64_t k = c / 32 * 32; k < std::min(p.cols, c / 32 * 32 + 32); ++k)
          amax = std::max(amax, std::fabs(static_cast<double>(xt[k])));
        bound += std::fabs(p.deq[r * p.cols + c]) * amax / 254.0;
      }
      ASSERT_NEAR(ys[t * p.rows + r], exact, bound * 1.01 + 1e-5 * abs_sum + 1e-6)
          << "scalar vs exact, t " << t << " r " << r;
    }
  const CpuFeatures& f = GetCpuFeatures();
  for (SimdLevel level : {SimdLevel::kAvx2, SimdLevel::kAvx512}) {
    if (level == SimdLevel::kAvx2 && !f.avx2) continue;
    if (level == SimdLevel::kAvx512 && !(f.avx512 && f.avx512_vnni)) continue;
    std::vector<float> yv(n_tokens * p.rows, -1.f);
    ASSERT_TRUE(QuantMatMulAtLevel(level, p.view(), x.data(), n_tokens, yv.data(), n_threads).ok());
    for (int64_t t = 0; t < n_tokens; ++t)
      for (int64_t r = 0; r < p.rows; ++r) {
        double abs_sum = 0;
        for (int64_t c = 0; c < p.cols; ++c)
          abs_sum += std::fabs(static_cast<double>(p.deq[r * p.cols + c]) * x[t * p.cols + c]);
        ASSERT_NEAR(yv[t * p.rows + r], ys[t * p.rows + r], 2e-6 * abs_sum + 1e-7)
            << SimdLevelName(level) << " t " << t << " r " << r;
      }
  }
}

TEST(QuantMatMul, EveryEncodingGroupAndTokenCount) {
  uint32_t seed = 1;
  for (auto e : {pb::ENCODING_Q8_SYM, pb::ENCODING_Q4_SYM, pb::ENCODING_Q4_ASYM})
    for (int g : {0, 32, 64, 128, 256})
      for (int64_t cols : {64, 96, 320, 416}) {
        const Problem p = Make(e, g, 19, cols, ++seed);
        for (int64_t n : {1, 2, 3, 4, 5, 8, 17}) Check(p, n, ++seed);
      }
}

TEST(QuantMatMul, RaggedAndOddRows) {
  uint32_t seed = 100;
  for (auto e : {pb::ENCODING_Q8_SYM, pb::ENCODING_Q4_SYM, pb::ENCODING_Q4_ASYM}) {
    // Per-row groups of odd / non-multiple-of-32 width (scalar fallback).
    for (int64_t cols : {1, 7, 33, 101}) {
      const Problem q = Make(e, 0, 5, cols, ++seed);
      Check(q, 3, ++seed);
    }
    // GLM-4 ffn_down width 13696 = 53.5 x 256: the last g256 group is padded.
    const Problem p = Make(e, 256, 6, 13696, ++seed);
    Check(p, 1, ++seed);
    Check(p, 6, ++seed);
    const Problem g128 = Make(e, 128, 4, 13696, ++seed);
    Check(g128, 2, ++seed);
    const Problem per_row = Make(e, 0, 4, 13696, ++seed);
    Check(per_row, 5, ++seed);
  }
}

// The GEMV (every token past the last tile of 4) splits each thread's rows
// into 8 blocks read as 8 streams, with the leftover rows one at a time:
// row counts around multiples of 8 and of the 16-row chunks, 1-3 threads.
TEST(QuantMatMul, GemvRowStreamsAndLeftovers) {
  uint32_t seed = 500;
  const std::pair<pb::Encoding, int> cases[] = {{pb::ENCODING_Q8_SYM, 32},
                                                {pb::ENCODING_Q8_SYM, 128},
                                                {pb::ENCODING_Q4_SYM, 128},
                                                {pb::ENCODING_Q4_ASYM, 64}};
  for (const auto& [e, g] : cases)
    for (int64_t rows : {8, 16, 23, 64, 131}) {
      const Problem p = Make(e, g, rows, 256, ++seed);
      for (int threads : {1, 2, 3})
        for (int64_t n : {1, 5}) Check(p, n, ++seed, threads);
    }
}

// SIMD levels against the scalar reference only (the reference itself is
// checked against the exact product above): y of the SIMD level vs y of
// the scalar kernel within the f32-order budget.
void CheckLevels(const Problem& p, int64_t n_tokens, uint32_t seed, int n_threads) {
  SCOPED_TRACE(testing::Message() << "enc " << p.spec.encoding << " g" << p.spec.group_size
                                  << " rows " << p.rows << " cols " << p.cols << " tokens "
                                  << n_tokens << " threads " << n_threads);
  const std::vector<float> x = Activations(n_tokens, p.cols, seed);
  std::vector<float> ys(n_tokens * p.rows);
  ASSERT_TRUE(QuantMatMulAtLevel(SimdLevel::kScalar, p.view(), x.data(), n_tokens, ys.data()).ok());
  std::vector<double> abs_sum(n_tokens * p.rows);
  for (int64_t t = 0; t < n_tokens; ++t)
    for (int64_t r = 0; r < p.rows; ++r)
      for (int64_t c = 0; c < p.cols; ++c)
        abs_sum[t * p.rows + r] +=
            std::fabs(static_cast<double>(p.deq[r * p.cols + c]) * x[t * p.cols + c]);
  const CpuFeatures& f = GetCpuFeatures();
  for (SimdLevel level : {SimdLevel::kAvx2, SimdLevel::kAvx512}) {
    if (level == SimdLevel::kAvx2 && !f.avx2) continue;
    if (level == SimdLevel::kAvx512 && !(f.avx512 && f.avx512_vnni)) continue;
    std::vector<float> yv(n_tokens * p.rows, -1.f);
    ASSERT_EQ(*QuantMatMulAtLevel(level, p.view(), x.data(), n_tokens, yv.data(), n_threads),
              level);
    for (int64_t i = 0; i < n_tokens * p.rows; ++i)
      ASSERT_NEAR(yv[i], ys[i], 2e-6 * abs_sum[i] + 1e-7)
          << SimdLevelName(level) << " t " << i / p.rows << " r " << i % p.rows;
  }
}

// The prefill GEMM (two or more tokens): every encoding and group size glmq
// writes, token counts around its tiles (6 on AVX-512, 4 on AVX2), row
// counts around its panels (32 / 8 rows), widths of one and of several
// 512-value K blocks (and one group across them), padded last groups, 1-3
// threads.
TEST(QuantMatMul, GemmEveryEncodingTokensRowsAndThreads) {
  const std::pair<pb::Encoding, int> cases[] = {
      {pb::ENCODING_Q8_SYM, 32},  {pb::ENCODING_Q8_SYM, 128},  {pb::ENCODING_Q4_SYM, 32},
      {pb::ENCODING_Q4_SYM, 64},  {pb::ENCODING_Q4_SYM, 128},  {pb::ENCODING_Q4_ASYM, 32},
      {pb::ENCODING_Q4_ASYM, 64}, {pb::ENCODING_Q4_ASYM, 128}, {pb::ENCODING_Q8_SYM, 256},
      {pb::ENCODING_Q4_SYM, 0}};
  uint32_t seed = 900;
  for (const auto& [e, g] : cases)
    for (int64_t cols : {96, 1120}) {
      if (g == 0) cols += 32;  // one group of 128 / 1152 (SIMD needs g % 64 == 0 for q4)
      for (int64_t rows : {1, 7, 33, 70}) {
        const Problem p = Make(e, g, rows, cols, ++seed);
        for (int64_t n : {2, 3, 7, 16, 64, 257}) {
          if (n == 257 && rows < 33) continue;
          CheckLevels(p, n, ++seed, n == 7 ? 3 : n == 16 ? 1 : 2);
        }
      }
    }
}

// The AVX2 and AVX-512 activation quantizers write the scalar reference's
// bits (q, block scales and sums, group sums, GEMV lanes), in the GEMV's
// layout and in the GEMM's K blocks.
TEST(QuantMatMul, SimdActivationQuantizersMatchReference) {
  const CpuFeatures& f = GetCpuFeatures();
  for (int64_t kc : {int64_t{0}, qk::kQGemmKc})
    for (int64_t cols : {1, 31, 33, 64, 100, 4096, 13696}) {
      for (int g : {0, 32, 128}) {
        SCOPED_TRACE(testing::Message() << "kc " << kc << " cols " << cols << " g" << g);
        absl::StatusOr<GroupGeometry> geo = GetGroupGeometry(pb::ENCODING_Q4_SYM, g, cols);
        ASSERT_TRUE(geo.ok());
        std::vector<float> x = Activations(3, cols, static_cast<uint32_t>(cols + g));
        if (cols > 44) {  // block 1: signed zeros; amax 127, so x * 127 / amax = x: ties
          x[35] = 0.f, x[36] = -0.f, x[40] = 127.f, x[41] = 2.5f, x[42] = -3.5f, x[43] = 0.5f;
        }
        qk::ActQ ref, simd;
        qk::PrepareActivations(*geo, cols, 3, kc, &ref);
        std::fill(ref.q.begin(), ref.q.end(), 0);  // the unused tail of the last K block
        qk::QuantizeTokensScalar(*geo, x.data(), cols, 0, 3, &ref);
        for (qk::QuantizeTokensFn fn : {qk::QuantizeTokensAvx2, qk::QuantizeTokensAvx512}) {
          if (fn == qk::QuantizeTokensAvx2 && !f.avx2) continue;
          if (fn == qk::QuantizeTokensAvx512 && !f.avx512) continue;
          qk::PrepareActivations(*geo, cols, 3, kc, &simd);
          std::fill(simd.q.begin(), simd.q.end(), 0);
          fn(*geo, x.data(), cols, 0, 2, &simd);
          fn(*geo, x.data(), cols, 2, 3, &simd);
          EXPECT_EQ(simd.q, ref.q);
          EXPECT_EQ(simd.scale, ref.scale);
          EXPECT_EQ(simd.block_bias, ref.block_bias);
          EXPECT_EQ(simd.block_fsum, ref.block_fsum);
          EXPECT_EQ(simd.group_sum, ref.group_sum);
          EXPECT_EQ(simd.lane_scale, ref.lane_scale);
          EXPECT_EQ(simd.lane_neg_sum, ref.lane_neg_sum);
        }
      }
    }
}

// On an AVX2 CPU with AVX-VNNI the prefill GEMM takes vpdpbusd: the same
// integer sums as vpmaddubsw + vpmaddwd, so the same bits as QGemmAvx2
// (which GemmEveryEncodingTokensRowsAndThreads checks where AVX-VNNI is
// absent; here the AVX2 level runs the AVX-VNNI one).
TEST(QuantMatMul, AvxVnniGemmIsAvx2sBits) {
  const CpuFeatures& f = GetCpuFeatures();
  if (!f.avx2 || !f.avx_vnni) GTEST_SKIP() << "no AVX-VNNI on this CPU";
  uint32_t seed = 1400;
  for (const auto& [e, g] : {std::pair{pb::ENCODING_Q8_SYM, 32},
                             {pb::ENCODING_Q8_SYM, 128},
                             {pb::ENCODING_Q4_SYM, 32},
                             {pb::ENCODING_Q4_SYM, 128},
                             {pb::ENCODING_Q4_ASYM, 32},
                             {pb::ENCODING_Q4_ASYM, 128}}) {
    for (int64_t n : {2, 5, 17}) {
      SCOPED_TRACE(testing::Message() << "enc " << e << " g" << g << " tokens " << n);
      const Problem p = Make(e, g, 21, 1120, ++seed);
      const std::vector<float> x = Activations(n, p.cols, ++seed);
      const GroupGeometry geo = *GetGroupGeometry(e, g, p.cols);
      qk::ActQ a;
      qk::PrepareActivations(geo, p.cols, n, qk::kQGemmKc, &a);
      qk::QuantizeTokensAvx2(geo, x.data(), p.cols, 0, n, &a);
      std::vector<float> y2(n * p.rows, NAN), yv(n * p.rows, NAN);
      qk::QGemmAvx2(p.view(), geo, a, 0, p.rows, y2.data());
      qk::QGemmAvxVnni(p.view(), geo, a, 0, p.rows, yv.data());
      for (size_t i = 0; i < y2.size(); ++i) ASSERT_EQ(yv[i], y2[i]) << "at " << i;
    }
  }
}

TEST(QuantMatMul, SimdLevelsRunWhenAvailable) {
  const Problem p = Make(pb::ENCODING_Q4_SYM, 128, 4, 256, 9);
  const std::vector<float> x = Activations(1, 256, 3);
  std::vector<float> y(4);
  const CpuFeatures& f = GetCpuFeatures();
  if (f.avx2) {
    EXPECT_EQ(*QuantMatMulAtLevel(SimdLevel::kAvx2, p.view(), x.data(), 1, y.data()),
              SimdLevel::kAvx2);
  }
  if (f.avx512 && f.avx512_vnni) {
    EXPECT_EQ(*QuantMatMulAtLevel(SimdLevel::kAvx512, p.view(), x.data(), 1, y.data()),
              SimdLevel::kAvx512);
  }
}

// A view is checked once, when it is made; the kernel refuses what it
// cannot multiply with a Status naming the tensor and leaves y alone.
TEST(QuantMatMul, BadViewsAreRefused) {
  std::vector<uint8_t> bytes(100);
  absl::StatusOr<WeightView> w =
      MakeWeightView("blk.0.w", pb::ENCODING_Q4_SYM, 128, {2, 256}, bytes.data(), bytes.size());
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("blk.0.w"), std::string::npos) << w.status();
  EXPECT_FALSE(MakeWeightView("w", pb::ENCODING_Q4_SYM, 48, {2, 256}, bytes.data(), 132).ok());
  std::vector<uint8_t> dense(2 * 256 * 2);
  w = MakeWeightView("blk.1.w", pb::ENCODING_BF16, 0, {2, 256}, dense.data(), dense.size());
  ASSERT_TRUE(w.ok());
  std::vector<float> x(256, 1.f), y(2, 7.f);
  const absl::Status s = QuantMatMul(*w, x.data(), 1, y.data());
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("blk.1.w"), std::string::npos) << s;
  EXPECT_EQ(y[0], 7.f);
}

}  // namespace
}  // namespace glmq
