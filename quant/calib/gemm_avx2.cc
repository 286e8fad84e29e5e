// SubMatMul for AVX2 + FMA (compiled with -mavx2 -mfma; called only when the CPU has it).
#include "quant/calib/gemm_impl.h"

namespace glmq::calib::gemm_avx2 {

void SubMatMul(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
               int64_t ldb, float* c, int64_t ldc) {
  gemm_impl::Kernel<float, 8, 6>::Run(m, n, k, a, lda, b, ldb, c, ldc);
}
void SubMatMul(int64_t m, int64_t n, int64_t k, const double* a, int64_t lda, const double* b,
               int64_t ldb, double* c, int64_t ldc) {
  gemm_impl::Kernel<double, 4, 6>::Run(m, n, k, a, lda, b, ldb, c, ldc);
}

double QuadForm(const double* g, int64_t ld, const float* d, int64_t n, double* v) {
  return gemm_impl::Kernel<double, 4, 6>::Quad(g, ld, d, n, v);
}
void QuadForms(const double* g, int64_t ld, const float* d, int64_t n, int64_t k, double* v,
               double* e) {
  gemm_impl::Kernel<double, 4, 6>::QuadMany<2>(g, ld, d, n, k, v, e);
}

}  // namespace glmq::calib::gemm_avx2
