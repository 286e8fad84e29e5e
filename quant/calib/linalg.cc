#include "quant/calib/linalg.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace glmq::calib {
namespace {

// H = R R^T with R upper triangular: for j = n-1 .. 0,
//   R[j][j] = sqrt(H[j][j] - sum_{k>j} R[j][k]^2)
//   R[i][j] = (H[i][j] - sum_{k>j} R[i][k] R[j][k]) / R[j][j]   (i < j)
// The sums run over contiguous row tails, so rows stream through cache.
absl::Status UpperCholesky(std::vector<double>& r, int64_t n) {
  for (int64_t j = n - 1; j >= 0; --j) {
    const double* rj = &r[j * n];
    double d = rj[j];
    for (int64_t k = j + 1; k < n; ++k) d -= rj[k] * rj[k];
    if (!(d > 0) || !std::isfinite(d))
      return absl::FailedPreconditionError(
          absl::StrCat("matrix is not positive definite (pivot ", j, " is ", d, ")"));
    const double djj = std::sqrt(d);
    r[j * n + j] = djj;
    const double inv = 1.0 / djj;
#pragma omp parallel for schedule(static) if (j > 256)
    for (int64_t i = 0; i < j; ++i) {
      double* ri = &r[i * n];
      double s = ri[j];
      for (int64_t k = j + 1; k < n; ++k) s -= ri[k] * rj[k];
      ri[j] = s * inv;
    }
  }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < i; ++k) r[i * n + k] = 0.0;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<double>> UpperCholeskyOfInverse(const std::vector<double>& h,
                                                            int64_t n) {
  if (n <= 0 || static_cast<int64_t>(h.size()) != n * n)
    return absl::InvalidArgumentError(absl::StrCat("matrix of ", h.size(), " values is not ", n,
                                                   " x ", n));
  std::vector<double> r = h;
  absl::Status s = UpperCholesky(r, n);
  if (!s.ok()) return s;
  // U = R^-1, upper: row i of U is (e_i - sum_{k>i} R[i][k] U[k][:]) / R[i][i],
  // built from the last row up (rows below i are final by then).
  std::vector<double> u(static_cast<size_t>(n * n), 0.0);
  for (int64_t i = n - 1; i >= 0; --i) {
    double* ui = &u[i * n];
    const double* ri = &r[i * n];
    for (int64_t k = i + 1; k < n; ++k) {
      const double c = ri[k];
      if (c == 0.0) continue;
      const double* uk = &u[k * n];
      for (int64_t j = k; j < n; ++j) ui[j] -= c * uk[j];
    }
    const double inv = 1.0 / ri[i];
    ui[i] = 1.0;
    for (int64_t j = i; j < n; ++j) ui[j] *= inv;
  }
  return u;
}

}  // namespace glmq::calib
