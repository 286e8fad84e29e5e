// The dense GEMM: SubMatMul (the dispatched SIMD level) against a plain
// triple loop, and MatMulWeightsT at every SIMD level the CPU has against the
// scalar dot products, on sizes that cross every block and tile boundary.
// MatMulWeightsT's budget (f32 summation order): |got - ref| <= 1e-6
// sqrt(k) sum_c |x_c w_c| + 1e-30, as runtime/cpu/kernels_test.cc.
#include "quant/gemm.h"

#include <cmath>
#include <random>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"

namespace glmq::gemm {
namespace {

template <typename T>
std::vector<T> Uniform(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  std::vector<T> v(n);
  for (T& x : v) x = static_cast<T>(dist(rng));
  return v;
}

template <typename T>
void CheckSubMatMul(double tol) {
  // m, n, k not multiples of the register tile (AVX-512 12 x 2 vectors, AVX2
  // 6 x 2; then 4- and 1-row tiles), k > kGemmKc; exact tiles too.
  for (auto [m, n, k] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 1},
                         {7, 45, 3},
                         {133, 70, 300},
                         {64, 257, 128},
                         {12, 32, 256},
                         {25, 96, 513},
                         {141, 64, 37}}) {
    const int64_t lda = k + 3, ldb = n + 5, ldc = n + 1;
    std::vector<T> a = Uniform<T>(m * lda, 1), b = Uniform<T>(k * ldb, 2),
                   c = Uniform<T>(m * ldc, 3);
    std::vector<T> want = c;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t p = 0; p < k; ++p) s += double{a[i * lda + p]} * b[p * ldb + j];
        want[i * ldc + j] = static_cast<T>(want[i * ldc + j] - s);
      }
    SubMatMul(m, n, k, a.data(), lda, b.data(), ldb, c.data(), ldc);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < ldc; ++j) {
        if (j >= n) {
          EXPECT_EQ(c[i * ldc + j], want[i * ldc + j]) << "padding written";
          continue;
        }
        ASSERT_NEAR(c[i * ldc + j], want[i * ldc + j], tol * std::sqrt(double(k)))
            << m << "x" << n << "x" << k << " at " << i << "," << j;
      }
  }
}

TEST(Gemm, SubMatMulMatchesTripleLoop) {
  CheckSubMatMul<float>(1e-5);
  CheckSubMatMul<double>(1e-13);
}

// Token counts around the register tile (12 / 6 rows) and the A block (40
// tiles), weight rows around the 2-vector panel (32 / 16) with a thread's
// range starting inside the matrix, k around the 256 block and the vector
// width; y's other rows stay untouched.
TEST(Gemm, MatMulWeightsTMatchesDotProducts) {
  const CpuFeatures& f = GetCpuFeatures();
  std::vector<SimdLevel> levels;
  if (f.avx2) levels.push_back(SimdLevel::kAvx2);
  if (f.avx512) levels.push_back(SimdLevel::kAvx512);
  if (levels.empty()) GTEST_SKIP() << "no SIMD on this CPU";
  struct Case { int64_t m, rows, k, r0, r1; };
  const Case cases[] = {{1, 5, 3, 0, 5},      {4, 33, 100, 0, 33},   {13, 70, 300, 5, 69},
                        {12, 32, 256, 0, 32}, {64, 40, 528, 16, 40}, {500, 48, 64, 0, 48},
                        {7, 17, 1000, 1, 17}, {25, 96, 513, 32, 96}};
  for (SimdLevel level : levels)
    for (DType dt : {DType::kF32, DType::kF16, DType::kBF16})
      for (const Case& c : cases) {
        SCOPED_TRACE(testing::Message() << SimdLevelName(level) << " " << Traits(dt).name << " "
                                        << c.m << "x" << c.rows << "x" << c.k << " rows ["
                                        << c.r0 << ", " << c.r1 << ")");
        const std::vector<float> wf = Uniform<float>(c.rows * c.k, 1);
        std::vector<uint8_t> w(c.rows * c.k * DTypeSize(dt));
        ConvertFromF32(dt, wf.data(), w.data(), c.rows * c.k);
        std::vector<float> wr(c.rows * c.k);
        ConvertToF32(dt, w.data(), wr.data(), c.rows * c.k);
        const int64_t ldx = c.k + 3, ldy = c.rows + 2;
        const std::vector<float> x = Uniform<float>(c.m * ldx, 2);
        std::vector<float> y(c.m * ldy, -7.f);
        MatMulWeightsT(level, c.m, c.k, x.data(), ldx, dt, w.data(), c.r0, c.r1, y.data(), ldy);
        for (int64_t t = 0; t < c.m; ++t)
          for (int64_t r = 0; r < ldy; ++r) {
            if (r < c.r0 || r >= c.r1) {
              ASSERT_EQ(y[t * ldy + r], -7.f) << "row " << r << " written";
              continue;
            }
            float ref = 0.f;
            double l1 = 0;
            for (int64_t p = 0; p < c.k; ++p) {
              ref += wr[r * c.k + p] * x[t * ldx + p];
              l1 += std::fabs(wr[r * c.k + p] * x[t * ldx + p]);
            }
            ASSERT_NEAR(y[t * ldy + r], ref, 1e-6 * std::sqrt(double(c.k)) * l1 + 1e-30)
                << "t " << t << " r " << r;
          }
      }
}

}  // namespace
}  // namespace glmq::gemm
