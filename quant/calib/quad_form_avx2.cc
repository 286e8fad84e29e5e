// QuadForm for AVX2 + FMA (compiled with -mavx2 -mfma; called only when the CPU has it).
#include "quant/calib/quad_form_impl.h"

namespace glmq::calib::quad_avx2 {

double QuadForm(const double* g, int64_t ld, const float* d, int64_t n, double* v) {
  return quad_impl::Kernel<double, 4>::Quad(g, ld, d, n, v);
}
void QuadForms(const double* g, int64_t ld, const float* d, int64_t n, int64_t k, double* v,
               double* e) {
  quad_impl::Kernel<double, 4>::QuadMany<2>(g, ld, d, n, k, v, e);
}

}  // namespace glmq::calib::quad_avx2
