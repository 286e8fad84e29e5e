// SubMatMul's scalar reference and the run-time dispatch.
#include "core/cpu_features.h"
#include "quant/calib/gemm.h"

namespace glmq::calib {
namespace gemm_avx2 {
void SubMatMul(int64_t, int64_t, int64_t, const float*, int64_t, const float*, int64_t, float*,
               int64_t);
void SubMatMul(int64_t, int64_t, int64_t, const double*, int64_t, const double*, int64_t,
               double*, int64_t);
}  // namespace gemm_avx2
namespace gemm_avx512 {
void SubMatMul(int64_t, int64_t, int64_t, const float*, int64_t, const float*, int64_t, float*,
               int64_t);
void SubMatMul(int64_t, int64_t, int64_t, const double*, int64_t, const double*, int64_t,
               double*, int64_t);
}  // namespace gemm_avx512
namespace {

// The definition: per element, the sum over each k block (ascending), then
// subtracted, block by block.
template <typename T>
void Reference(int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b,
               int64_t ldb, T* c, int64_t ldc) {
  for (int64_t p0 = 0; p0 < k; p0 += kGemmKc) {
    const int64_t p1 = p0 + kGemmKc < k ? p0 + kGemmKc : k;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        T s = 0;
        for (int64_t p = p0; p < p1; ++p) s += a[i * lda + p] * b[p * ldb + j];
        c[i * ldc + j] -= s;
      }
  }
}

template <typename T>
void Dispatch(int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb,
              T* c, int64_t ldc) {
  if (m <= 0 || n <= 0 || k <= 0) return;
  static const SimdLevel level = ActiveSimdLevel();
  if (level == SimdLevel::kAvx512) return gemm_avx512::SubMatMul(m, n, k, a, lda, b, ldb, c, ldc);
  if (level == SimdLevel::kAvx2) return gemm_avx2::SubMatMul(m, n, k, a, lda, b, ldb, c, ldc);
  Reference(m, n, k, a, lda, b, ldb, c, ldc);
}

}  // namespace

void SubMatMul(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
               int64_t ldb, float* c, int64_t ldc) {
  Dispatch(m, n, k, a, lda, b, ldb, c, ldc);
}
void SubMatMul(int64_t m, int64_t n, int64_t k, const double* a, int64_t lda, const double* b,
               int64_t ldb, double* c, int64_t ldc) {
  Dispatch(m, n, k, a, lda, b, ldb, c, ldc);
}

}  // namespace glmq::calib
