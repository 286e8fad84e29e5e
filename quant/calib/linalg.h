// Dense symmetric linear algebra for GPTQ (f64, row-major, n x n).
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace glmq::calib {

// For a symmetric positive definite H, returns the upper triangular U with
// H^-1 = U^T U (row-major n x n, zeros below the diagonal): the "Cholesky
// of the inverse, upper" that GPTQ sweeps. Computed without forming H^-1:
// factor H = R R^T with R upper (Cholesky run from the last index down),
// then U = R^-1. Error (FailedPrecondition) if H is not positive definite.
// O(n^3 / 2) flops, OpenMP inside.
absl::StatusOr<std::vector<double>> UpperCholeskyOfInverse(const std::vector<double>& h,
                                                            int64_t n);

}  // namespace glmq::calib
