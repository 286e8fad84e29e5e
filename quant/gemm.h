// glmq's one dense GEMM: a cache-blocked product with packed panels and an
// FMA register tile (gemm_impl.h), used by calibration (GPTQ's blocked
// linear algebra, the Gram products of runtime/calib: SubMatMul) and by the
// CPU runtime's dense prefill (MatMulWeightsT: f32 / f16 / bf16 weights,
// runtime/cpu/kernels_*.cc). Single-threaded: callers parallelise over
// blocks of the output. A scalar reference (gemm_scalar.cc) defines the
// results; the AVX2 / AVX-512 versions differ from it only by FMA rounding
// (SubMatMul) or by f32 summation order (MatMulWeightsT).
#pragma once

#include <cstdint>

#include "core/cpu_features.h"
#include "core/dtype.h"

namespace glmq::gemm {

// k is processed in blocks of this many (A's block and B's panel stay in cache).
constexpr int64_t kGemmKc = 256;

// C[m, n] -= A[m, k] * B[k, n]; all row-major with leading dimensions
// lda, ldb, ldc (elements). Each C element subtracts sum_p A[i][p] B[p][j]
// accumulated over blocks of k (kGemmKc), ascending. Chosen by
// ActiveSimdLevel().
void SubMatMul(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
               int64_t ldb, float* c, int64_t ldc);
void SubMatMul(int64_t m, int64_t n, int64_t k, const double* a, int64_t lda, const double* b,
               int64_t ldb, double* c, int64_t ldc);

// y[t * ldy + r] = sum_c x[t * ldx + c] * W[r, c] for t < m and rows r in
// [r0, r1): activations x [m, k] f32 times the transpose of a weight matrix
// W [rows, k] (row-major, wtype f32, f16 or bf16), accumulated in f32. The
// weights are converted to f32 once per call into packed panels. `level`
// kAvx2 or kAvx512 (the caller's kernel table; the CPU must have it); the
// scalar reference is runtime/cpu's plain dot product.
void MatMulWeightsT(SimdLevel level, int64_t m, int64_t k, const float* x, int64_t ldx,
                    DType wtype, const void* w, int64_t r0, int64_t r1, float* y, int64_t ldy);

}  // namespace glmq::gemm
