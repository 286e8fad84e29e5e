// The GEMM's scalar reference and the run-time dispatch.
#include <vector>

#include "core/cpu_features.h"
#include "quant/gemm.h"

namespace glmq::gemm {
namespace avx2 {
void SubMatMul(int64_t, int64_t, int64_t, const float*, int64_t, const float*, int64_t, float*,
               int64_t);
void SubMatMul(int64_t, int64_t, int64_t, const double*, int64_t, const double*, int64_t, double*,
               int64_t);
void MatMulWeightsT(int64_t, int64_t, const float*, int64_t, DType, const void*, int64_t, int64_t,
                    float*, int64_t);
}  // namespace avx2
namespace avx512 {
void SubMatMul(int64_t, int64_t, int64_t, const float*, int64_t, const float*, int64_t, float*,
               int64_t);
void SubMatMul(int64_t, int64_t, int64_t, const double*, int64_t, const double*, int64_t, double*,
               int64_t);
void MatMulWeightsT(int64_t, int64_t, const float*, int64_t, DType, const void*, int64_t, int64_t,
                    float*, int64_t);
}  // namespace avx512
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
  if (level == SimdLevel::kAvx512) return avx512::SubMatMul(m, n, k, a, lda, b, ldb, c, ldc);
  if (level == SimdLevel::kAvx2) return avx2::SubMatMul(m, n, k, a, lda, b, ldb, c, ldc);
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

void MatMulWeightsT(SimdLevel level, int64_t m, int64_t k, const float* x, int64_t ldx,
                    DType wtype, const void* w, int64_t r0, int64_t r1, float* y, int64_t ldy) {
  if (m <= 0 || r0 >= r1) return;
  if (level == SimdLevel::kAvx512)
    return avx512::MatMulWeightsT(m, k, x, ldx, wtype, w, r0, r1, y, ldy);
  if (level == SimdLevel::kAvx2) return avx2::MatMulWeightsT(m, k, x, ldx, wtype, w, r0, r1, y, ldy);
  // Scalar: the plain dot products (runtime/cpu/kernels_scalar.cc is the spec).
  const size_t es = DTypeSize(wtype);
  std::vector<float> row(static_cast<size_t>(k));
  for (int64_t r = r0; r < r1; ++r) {
    ConvertToF32(wtype, static_cast<const uint8_t*>(w) + r * k * es, row.data(), k);
    for (int64_t t = 0; t < m; ++t) {
      float s = 0.f;
      for (int64_t c = 0; c < k; ++c) s += row[c] * x[t * ldx + c];
      y[t * ldy + r] = s;
    }
  }
}

}  // namespace glmq::gemm
