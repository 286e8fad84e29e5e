// Scalar reference kernels: plain loops, sequential f32 accumulation. These
// define the results the SIMD versions are tested against.
#include <vector>

#include "runtime/cpu/kernels.h"

namespace glmq::cpu {
namespace {

float DotScalar(const float* a, const float* b, int64_t n) {
  float s = 0.f;
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

void AxpyScalar(float alpha, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

void MatMulRowsScalar(DType wtype, const void* w, int64_t cols, const float* x, int64_t n_tokens,
                      float* y, int64_t y_stride, int64_t r0, int64_t r1) {
  std::vector<float> row(cols);  // [cols] the weight row as f32
  const size_t esize = DTypeSize(wtype);
  for (int64_t r = r0; r < r1; ++r) {
    ConvertToF32(wtype, static_cast<const uint8_t*>(w) + r * cols * esize, row.data(), cols);
    for (int64_t t = 0; t < n_tokens; ++t) {
      y[t * y_stride + r] = DotScalar(row.data(), x + t * cols, cols);
    }
  }
}

}  // namespace

const DenseKernels& ScalarKernels() {
  static const DenseKernels k{SimdLevel::kScalar, MatMulRowsScalar, DotScalar, AxpyScalar};
  return k;
}

}  // namespace glmq::cpu
