// QuadForm's scalar reference and the run-time dispatch.
#include "quant/calib/quad_form.h"

#include <vector>

#include "core/cpu_features.h"

namespace glmq::calib {
namespace quad_avx2 {
double QuadForm(const double*, int64_t, const float*, int64_t, double*);
void QuadForms(const double*, int64_t, const float*, int64_t, int64_t, double*, double*);
}  // namespace quad_avx2
namespace quad_avx512 {
double QuadForm(const double*, int64_t, const float*, int64_t, double*);
void QuadForms(const double*, int64_t, const float*, int64_t, int64_t, double*, double*);
}  // namespace quad_avx512
namespace {

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
  if (level == SimdLevel::kAvx512) return quad_avx512::QuadForm(g, ld, d, n, v.data());
  if (level == SimdLevel::kAvx2) return quad_avx2::QuadForm(g, ld, d, n, v.data());
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
  if (level == SimdLevel::kAvx512) return quad_avx512::QuadForms(g, ld, d, n, k, v.data(), e);
  if (level == SimdLevel::kAvx2) return quad_avx2::QuadForms(g, ld, d, n, k, v.data(), e);
  for (int64_t c = 0; c < k; ++c) e[c] = QuadReference(g, ld, d + c * n, n, v.data());
}

}  // namespace glmq::calib
