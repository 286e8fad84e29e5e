// The one dense product GPTQ's linear algebra needs: C -= A * B, in f32 (the
// sweep's lazy batch update) and f64 (blocked Cholesky and triangular
// inverse, linalg.h). Single-threaded: callers parallelise over blocks of C.
// A scalar reference (gemm_scalar.cc) defines the result; the AVX2 / AVX-512
// versions differ from it only by FMA rounding. Chosen by ActiveSimdLevel().
#pragma once

#include <cstdint>

namespace glmq::calib {

// C[m, n] -= A[m, k] * B[k, n]; all row-major with leading dimensions
// lda, ldb, ldc (elements). Each C element subtracts sum_p A[i][p] B[p][j]
// accumulated over blocks of k (kGemmKc), ascending.
void SubMatMul(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
               int64_t ldb, float* c, int64_t ldc);
void SubMatMul(int64_t m, int64_t n, int64_t k, const double* a, int64_t lda, const double* b,
               int64_t ldb, double* c, int64_t ldc);

// d^T G d for the symmetric n x n matrix G at g (leading dimension ld) and
// d[n]. The scalar reference: v = sum_j d_j G[j, :] (j ascending, skipping
// d_j == 0), then sum_i d_i v_i (i ascending). The SIMD versions read only
// G's upper triangle plus diagonal blocks (the mirrored terms doubled, about
// half the multiply-adds) and so differ from it by f64 rounding (summation
// order). AWQ's per-group output error (activations.h).
double QuadForm(const double* g, int64_t ld, const float* d, int64_t n);
// QuadForm of k vectors at once: e[c] = QuadForm(g, ld, d + c n, n), the same
// value on each SIMD level (up to the sign of a zero), reading G once per few
// vectors instead of once per vector. AWQ ranks all candidates of a group so.
void QuadForms(const double* g, int64_t ld, const float* d, int64_t n, int64_t k, double* e);

// k is processed in blocks of this many (A's block and B's panel stay in cache).
constexpr int64_t kGemmKc = 256;

}  // namespace glmq::calib
