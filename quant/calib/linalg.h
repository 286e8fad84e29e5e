// Dense symmetric linear algebra for GPTQ (f64, row-major, n x n), blocked
// so that almost all flops run in SubMatMul (quant/gemm.h), in place so that a
// 13696^2 Hessian (1.5 GB) is held once. OpenMP inside.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace glmq::calib {

// Lower Cholesky factor in place: reads the lower triangle (diagonal
// included) of a symmetric positive definite a, overwrites it with L
// (a = L L^T). The strict upper triangle is neither read nor written, so it
// can keep a copy of the matrix for a retry. Error (FailedPrecondition,
// naming the pivot) if a is not positive definite; the lower triangle is
// then garbage. n^3/6 multiply-adds.
absl::Status CholeskyLowerInPlace(double* a, int64_t n);

// L -> L^-1 in place for lower triangular L with a positive diagonal; zeroes
// the strict upper triangle first. n^3/6 multiply-adds.
void InvertLowerInPlace(double* a, int64_t n);

// For a symmetric positive definite H, returns the upper triangular U with
// H^-1 = U^T U (row-major n x n, zeros below the diagonal): the "Cholesky
// of the inverse, upper" that GPTQ sweeps. With J the index reversal,
// J H J = L L^T gives H = R R^T for the upper R = J L J, and U = R^-1 =
// J L^-1 J: the flat array of L^-1 reversed. GPTQ (gptq.cc) runs the same
// steps in its own buffer. Error (FailedPrecondition) if H is not positive
// definite.
absl::StatusOr<std::vector<double>> UpperCholeskyOfInverse(const std::vector<double>& h,
                                                            int64_t n);

}  // namespace glmq::calib
