// Dense CPU kernel table: one row per SIMD level. The scalar row defines the
// results; the AVX2 and AVX-512 rows (kernels_avx2.cc, kernels_avx512.cc,
// compiled with their own -m flags) are tested against it in
// tests/runtime_kernels_test.cc with the error budgets stated there.
#pragma once

#include <cstdint>

#include "core/cpu_features.h"
#include "core/dtype.h"

namespace glmq::cpu {

// y[t * y_stride + r] = sum_c W[r, c] * x[t * cols + c] for rows r in
// [r0, r1) and all t < n_tokens; W: [rows, cols] of wtype (f32, f16, bf16)
// row-major. f32 accumulation. Tokens are processed in blocks so that each
// weight row is read once per token block. Single-threaded: callers split
// the rows between threads.
using MatMulRowsFn = void (*)(DType wtype, const void* w, int64_t cols, const float* x,
                              int64_t n_tokens, float* y, int64_t y_stride, int64_t r0,
                              int64_t r1);
// sum_i a[i] * b[i].
using DotFn = float (*)(const float* a, const float* b, int64_t n);
// y[i] += alpha * x[i].
using AxpyFn = void (*)(float alpha, const float* x, float* y, int64_t n);

struct DenseKernels {
  SimdLevel level;
  MatMulRowsFn matmul_rows;
  DotFn dot;
  AxpyFn axpy;
};

// The kernels of `level`; falls back to the best level the CPU supports
// below it (never returns kernels the CPU cannot run).
const DenseKernels& GetDenseKernels(SimdLevel level);
// GetDenseKernels(ActiveSimdLevel()).
const DenseKernels& ActiveDenseKernels();

// Per-level tables (defined in their own files).
const DenseKernels& ScalarKernels();
const DenseKernels& Avx2Kernels();
const DenseKernels& Avx512Kernels();

}  // namespace glmq::cpu
