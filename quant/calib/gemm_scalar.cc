// SubMatMul's scalar reference and the run-time dispatch.
#include <vector>

#include "core/cpu_features.h"
#include "quant/calib/gemm.h"

namespace glmq::calib {
namespace gemm_avx2 {
void SubMatMul(int64_t, int64_t, int64_t, const float*, int64_t, const float*, int64_t, float*,
               int64_t);
void SubMatMul(int64_t, int64_t, int64_t, const double*, int64_t, const double*, int64_t, double*,
               int64_t);
double QuadForm(const double*, int64_t, const float*, int64_t, double*);
void QuadForms(const double*, int64_t, const float*, int64_t, int64_t, double*, double*);
}  // namespace gemm_avx2
namespace gemm_avx512 {
void SubMatMul(int64_t, int64_t, int64_t, const float*, int64_t, const float*, int64_t, float*,
               int64_t);
void SubMatMul(int64_t, int64_t, int64_t, const double*, int64_t, const double*, int64_t, double*,
               int64_t);
double QuadForm(const double*, int64_t, const float*, int64_t, double*);
void QuadForms(const double*, int64_t, const float*, int64_t, int64_t, double*, double*);
}  // namespace gemm_avx512
namespace {

// The definition: per element, the sum over each k block (ascending), then
// subtracted, block by block.
template <typename T>
void Reference(int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb,
               T* c, int64_t ldc) {
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

double QuadReference(const double* g, int64_t ld, const float* d, int64_t n, double* v) {
  for (int64_t i = 0; i < n; ++i) v[i] = 0;
  for (int64_t j = 0; j < n; ++j) {
    if (d[j] == 0.f) continue;
    const double dj = d[j];
    for (int64_t i = 0; i < n; ++i) v[i] += dj * g[j * ld + i];
  }
  double e = 0;
  for (int64_t i = 0; i < n; ++i) e += d[i] * v[i];
  return e;
}

}  // namespace

double QuadForm(const double* g, int64_t ld, const float* d, int64_t n) {
  if (n <= 0) return 0;
  thread_local std::vector<double> v;
  v.resize(static_cast<size_t>(n));
  static const SimdLevel level = ActiveSimdLevel();
  if (level == SimdLevel::kAvx512) return gemm_avx512::QuadForm(g, ld, d, n, v.data());
  if (level == SimdLevel::kAvx2) return gemm_avx2::QuadForm(g, ld, d, n, v.data());
  return QuadReference(g, ld, d, n, v.data());
}

void QuadForms(const double* g, int64_t ld, const float* d, int64_t n, int64_t k, double* e) {
  if (n <= 0) {
    for (int64_t c = 0; c < k; ++c) e[c] = 0;
    return;
  }
  thread_local std::vector<double> v;
  v.resize(static_cast<size_t>(4 * n));
  static const SimdLevel level = ActiveSimdLevel();
  if (level == SimdLevel::kAvx512) return gemm_avx512::QuadForms(g, ld, d, n, k, v.data(), e);
  if (level == SimdLevel::kAvx2) return gemm_avx2::QuadForms(g, ld, d, n, k, v.data(), e);
  for (int64_t c = 0; c < k; ++c) e[c] = QuadReference(g, ld, d + c * n, n, v.data());
}

void SubMatMul(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
               int64_t ldb, float* c, int64_t ldc) {
  Dispatch(m, n, k, a, lda, b, ldb, c, ldc);
}
void SubMatMul(int64_t m, int64_t n, int64_t k, const double* a, int64_t lda, const double* b,
               int64_t ldb, double* c, int64_t ldc) {
  Dispatch(m, n, k, a, lda, b, ldb, c, ldc);
}

}  // namespace glmq::calib
