#include "quant/calib/linalg.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "quant/gemm.h"

namespace glmq::calib {
namespace {

constexpr int64_t kPanel = 128;    // columns per Cholesky panel / rows per inverse block
constexpr int64_t kRowBlock = 64;  // rows per parallel task of the trailing update

double Dot(const double* x, const double* y, int64_t n) {
  double s = 0;
  for (int64_t k = 0; k < n; ++k) s += x[k] * y[k];
  return s;
}

// Unblocked Cholesky of the diagonal block [k0, k1) (already updated by the
// earlier panels), then the rows below: a[i, k0:k1] <- a[i, k0:k1] L_kk^-T.
absl::Status FactorPanel(double* a, int64_t n, int64_t k0, int64_t k1) {
  for (int64_t j = k0; j < k1; ++j) {
    double* aj = a + j * n;
    const double d = aj[j] - Dot(aj + k0, aj + k0, j - k0);
    if (!(d > 0) || !std::isfinite(d))
      return absl::FailedPreconditionError(
          absl::StrCat("matrix is not positive definite (pivot ", j, " is ", d, ")"));
    aj[j] = std::sqrt(d);
    for (int64_t i = j + 1; i < k1; ++i) {
      double* ai = a + i * n;
      ai[j] = (ai[j] - Dot(ai + k0, aj + k0, j - k0)) / aj[j];
    }
  }
#pragma omp parallel for schedule(static) if (n - k1 > 256)
  for (int64_t i = k1; i < n; ++i) {
    double* ai = a + i * n;
    for (int64_t j = k0; j < k1; ++j) {
      const double* aj = a + j * n;
      ai[j] = (ai[j] - Dot(ai + k0, aj + k0, j - k0)) / aj[j];
    }
  }
  return absl::OkStatus();
}

// Trailing update of the lower triangle: a[i][j] -= a[i, k0:k1] . a[j, k0:k1]
// for k1 <= j <= i. pt: the panel transposed, [k1 - k0, n - k1].
void UpdateTrailing(double* a, int64_t n, int64_t k0, int64_t k1, std::vector<double>& pt) {
  const int64_t kb = k1 - k0, m = n - k1;
  pt.resize(static_cast<size_t>(kb * m));
  for (int64_t j = 0; j < m; ++j)
    for (int64_t p = 0; p < kb; ++p) pt[p * m + j] = a[(k1 + j) * n + k0 + p];
  const int64_t n_blocks = (m + kRowBlock - 1) / kRowBlock;
#pragma omp parallel for schedule(dynamic) if (m > 256)
  for (int64_t blk = n_blocks - 1; blk >= 0; --blk) {
    const int64_t i0 = k1 + blk * kRowBlock, i1 = std::min(n, i0 + kRowBlock);
    // Columns left of the block: a rectangle, all in the lower triangle.
    gemm::SubMatMul(i1 - i0, i0 - k1, kb, a + i0 * n + k0, n, pt.data(), m, a + i0 * n + k1, n);
    for (int64_t i = i0; i < i1; ++i)
      for (int64_t j = i0; j <= i; ++j) a[i * n + j] -= Dot(a + i * n + k0, a + j * n + k0, kb);
  }
}

}  // namespace

absl::Status CholeskyLowerInPlace(double* a, int64_t n) {
  std::vector<double> pt;
  for (int64_t k0 = 0; k0 < n; k0 += kPanel) {
    const int64_t k1 = std::min(n, k0 + kPanel);
    absl::Status s = FactorPanel(a, n, k0, k1);
    if (!s.ok()) return s;
    if (k1 < n) UpdateTrailing(a, n, k0, k1, pt);
  }
  return absl::OkStatus();
}

// Block row I = [i0, i1) of X = L^-1 from the rows above (already X):
// X[I, :i0] = -L_II^-1 (L[I, :i0] X[:i0, :i0]), X_II = L_II^-1, by forward
// substitution on t = [-L[I, :i0] X[:i0, :i0] | identity].
void InvertLowerInPlace(double* a, int64_t n) {
  for (int64_t i = 0; i < n; ++i) std::fill(a + i * n + i + 1, a + (i + 1) * n, 0.0);
  std::vector<double> t;
  for (int64_t i0 = 0; i0 < n; i0 += kPanel) {
    const int64_t i1 = std::min(n, i0 + kPanel), mb = i1 - i0, w = i1;
    t.assign(static_cast<size_t>(mb * w), 0.0);
    for (int64_t r = 0; r < mb; ++r) t[r * w + i0 + r] = 1.0;
    // X[:i0, :i0] is lower: column chunk [c0, c1) only meets rows >= c0.
    const int64_t n_chunks = (i0 + gemm::kGemmKc - 1) / gemm::kGemmKc;
#pragma omp parallel for schedule(dynamic) if (i0 > 512)
    for (int64_t ch = 0; ch < n_chunks; ++ch) {
      const int64_t c0 = ch * gemm::kGemmKc, c1 = std::min(i0, c0 + gemm::kGemmKc);
      gemm::SubMatMul(mb, c1 - c0, i0 - c0, a + i0 * n + c0, n, a + c0 * n + c0, n, t.data() + c0, w);
    }
    // t holds -L[I, :i0] X (and the identity); now solve L_II X[I, :] = t.
    for (int64_t r = 0; r < mb; ++r) {
      double* tr = t.data() + r * w;
      const double* lr = a + (i0 + r) * n;
      for (int64_t q = 0; q < r; ++q) {
        const double l = lr[i0 + q];
        const double* tq = t.data() + q * w;
        for (int64_t j = 0; j <= i0 + q; ++j) tr[j] -= l * tq[j];
      }
      const double inv = 1.0 / lr[i0 + r];
      for (int64_t j = 0; j <= i0 + r; ++j) tr[j] *= inv;
    }
    for (int64_t r = 0; r < mb; ++r) std::copy_n(t.data() + r * w, i0 + r + 1, a + (i0 + r) * n);
  }
}

absl::StatusOr<std::vector<double>> UpperCholeskyOfInverse(const std::vector<double>& h,
                                                           int64_t n) {
  if (n <= 0 || static_cast<int64_t>(h.size()) != n * n)
    return absl::InvalidArgumentError(
        absl::StrCat("matrix of ", h.size(), " values is not ", n, " x ", n));
  std::vector<double> a(h.rbegin(), h.rend());  // J H J
  absl::Status s = CholeskyLowerInPlace(a.data(), n);
  if (!s.ok()) return s;
  InvertLowerInPlace(a.data(), n);
  std::reverse(a.begin(), a.end());
  return a;
}

}  // namespace glmq::calib
