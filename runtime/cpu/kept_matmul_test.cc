// CpuBackend::MatMul of a linear with kept input columns (schema/weight.h)
// against an f64 product of its fake-quant weights (the main weight
// dequantized, its kept columns replaced by the f16 kept values), for one
// token (GEMV) and many (GEMM), with the scalar and the active dense
// kernels. Budget: the main product's int8 activation rounding on x with the
// kept columns zeroed, sum_c |w_c| amax_b(c) / 254, plus f32 slack; an
// outlier activation in a kept column must not enter it.
#include <cmath>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "gtest/gtest.h"
#include "quant/dequantize.h"
#include "quant/quantize.h"
#include "runtime/cpu/cpu_backend.h"

namespace glmq {
namespace {

constexpr int64_t kRows = 48, kCols = 256;

struct Kept {
  std::vector<uint8_t> q;
  std::vector<float> deq;  // main dequantized, kept columns restored
  std::vector<uint16_t> cols;
  std::vector<int32_t> idx = {7, 100, 201};
  WeightView view;
};

Kept Make() {
  Kept k;
  std::mt19937 rng(5);
  std::normal_distribution<float> d(0.f, 0.05f);
  std::vector<float> w(kRows * kCols);
  for (auto& v : w) v = d(rng);
  const int64_t n = static_cast<int64_t>(k.idx.size());
  k.cols.resize(kRows * n);
  for (int64_t r = 0; r < kRows; ++r) {
    for (int64_t i = 0; i < n; ++i) {
      k.cols[r * n + i] = F32ToF16(4.f * w[r * kCols + k.idx[i]]);
      w[r * kCols + k.idx[i]] = 0.f;
    }
  }
  const QuantSpec spec{pb::ENCODING_Q4_SYM, 32, 2};
  k.q.resize(*QuantizedBytes(spec, kRows, kCols));
  EXPECT_TRUE(QuantizeMatrix(w.data(), kRows, kCols, spec, nullptr, k.q.data(), nullptr).ok());
  k.deq.resize(kRows * kCols);
  EXPECT_TRUE(
      DequantizeRows(spec.encoding, 32, kRows, kCols, k.q, 0, kRows, k.deq.data()).ok());
  for (int64_t r = 0; r < kRows; ++r)
    for (int64_t i = 0; i < n; ++i) k.deq[r * kCols + k.idx[i]] = F16ToF32(k.cols[r * n + i]);
  k.view = *MakeWeightView("w", spec.encoding, 32, {kRows, kCols}, k.q.data(), k.q.size());
  k.view.n_kept = n;
  k.view.kept_cols = k.cols.data();
  k.view.kept_idx = k.idx.data();
  return k;
}

void Check(const cpu::DenseKernels& kernels, int64_t n_tokens) {
  SCOPED_TRACE(testing::Message() << SimdLevelName(kernels.level) << " tokens " << n_tokens);
  const Kept k = Make();
  std::mt19937 rng(9);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> x(n_tokens * kCols);
  for (auto& v : x) v = d(rng);
  for (int64_t t = 0; t < n_tokens; ++t) x[t * kCols + 7] = 300.f;  // outlier, kept
  CpuBackend be(2, &kernels);
  std::vector<float> y(n_tokens * kRows);
  ASSERT_TRUE(be.MatMul(k.view, x.data(), n_tokens, y.data()).ok());
  for (int64_t t = 0; t < n_tokens; ++t) {
    const float* xt = &x[t * kCols];
    for (int64_t r = 0; r < kRows; ++r) {
      double exact = 0, budget = 1e-4;
      for (int64_t c = 0; c < kCols; ++c) {
        exact += double(k.deq[r * kCols + c]) * xt[c];
        bool kept = false;
        for (int32_t j : k.idx) kept |= j == c;
        if (kept) continue;
        float amax = 0;  // of the block of 32 the main product quantizes, kept zeroed
        for (int64_t b = c / 32 * 32; b < c / 32 * 32 + 32; ++b) {
          bool bk = false;
          for (int32_t j : k.idx) bk |= j == b;
          if (!bk) amax = std::max(amax, std::fabs(xt[b]));
        }
        budget += std::fabs(k.deq[r * kCols + c]) * amax / 254.0;
      }
      EXPECT_NEAR(y[t * kRows + r], exact, budget) << "row " << r;
    }
  }
}

TEST(KeptMatMul, MatchesFakeQuantProductScalarAndSimd) {
  for (const cpu::DenseKernels* k : {&cpu::ScalarKernels(), &cpu::ActiveDenseKernels()}) {
    for (int64_t n : {1, 3, 16}) Check(*k, n);
  }
}

}  // namespace
}  // namespace glmq
