#include "quant/calib/activations.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "quant/calib/quad_form.h"
#include "quant/gemm.h"

namespace glmq::calib {
namespace {

constexpr int64_t kRowsPerTask = 32;  // weight rows per RowsError GEMM call

}  // namespace

absl::StatusOr<ActivationModel> ActivationModel::FromGram(std::vector<double> gram,
                                                          int64_t cols) {
  if (cols <= 0 || static_cast<int64_t>(gram.size()) != cols * cols)
    return absl::InvalidArgumentError(
        absl::StrCat("second-moment matrix of ", gram.size(), " values for ", cols, " channels"));
  ActivationModel m;
  m.cols_ = cols;
  m.gram_ = std::move(gram);
  return m;
}

absl::StatusOr<ActivationModel> ActivationModel::FromDiagonal(std::vector<double> diag) {
  if (diag.empty()) return absl::InvalidArgumentError("second moments of 0 channels");
  for (size_t j = 0; j < diag.size(); ++j)
    if (!std::isfinite(diag[j]) || diag[j] < 0)
      return absl::InvalidArgumentError(absl::StrCat("E[x^2] of channel ", j, " is ", diag[j]));
  ActivationModel m;
  m.cols_ = static_cast<int64_t>(diag.size());
  m.diag_ = std::move(diag);
  return m;
}

absl::StatusOr<ActivationModel> ActivationModel::FromSamples(std::vector<float> x, int64_t n,
                                                             int64_t cols) {
  if (cols <= 0 || n <= 0 || static_cast<int64_t>(x.size()) != n * cols)
    return absl::InvalidArgumentError(
        absl::StrCat(x.size(), " sample values for ", n, " rows of ", cols, " channels"));
  ActivationModel m;
  m.cols_ = cols;
  m.x_ = std::move(x);
  m.n_ = n;
  m.xt_.resize(m.x_.size());
  for (int64_t t = 0; t < n; ++t)
    for (int64_t j = 0; j < cols; ++j) m.xt_[j * n + t] = m.x_[t * cols + j];
  return m;
}

absl::Status ActivationModel::AddGramBlocks(const double* xtx, double scale, int64_t b) {
  if (n_ <= 0 || b <= 0)
    return absl::FailedPreconditionError("second-moment blocks need a sample model");
  block_ = std::min(b, cols_);
  const int64_t nb = (cols_ + block_ - 1) / block_;
  blocks_.assign(static_cast<size_t>(nb * block_ * block_), 0.0);
  for (int64_t k = 0; k < nb; ++k) {
    const int64_t c0 = k * block_, len = std::min(block_, cols_ - c0);
    double* dst = &blocks_[k * block_ * block_];
    for (int64_t i = 0; i < len; ++i)
      for (int64_t j = 0; j < len; ++j)
        dst[i * block_ + j] = scale * xtx[(c0 + i) * cols_ + c0 + j];
  }
  return absl::OkStatus();
}

ActivationModel ActivationModel::Scaled(const std::vector<float>& s) const {
  ActivationModel m = *this;
  for (int64_t j = 0; j < static_cast<int64_t>(diag_.size()); ++j)
    m.diag_[j] /= static_cast<double>(s[j]) * static_cast<double>(s[j]);
  if (!gram_.empty())
    for (int64_t i = 0; i < cols_; ++i)
      for (int64_t j = 0; j < cols_; ++j)
        m.gram_[i * cols_ + j] /= static_cast<double>(s[i]) * static_cast<double>(s[j]);
  for (int64_t c0 = 0; block_ > 0 && c0 < cols_; c0 += block_) {
    const int64_t len = std::min(block_, cols_ - c0);
    double* blk = &m.blocks_[(c0 / block_) * block_ * block_];
    for (int64_t i = 0; i < len; ++i)
      for (int64_t j = 0; j < len; ++j)
        blk[i * block_ + j] /= static_cast<double>(s[c0 + i]) * static_cast<double>(s[c0 + j]);
  }
  for (int64_t t = 0; t < n_; ++t)
    for (int64_t j = 0; j < cols_; ++j) m.x_[t * cols_ + j] /= s[j];
  for (int64_t j = 0; j < cols_; ++j)
    for (int64_t t = 0; t < n_; ++t) m.xt_[j * n_ + t] /= s[j];
  return m;
}

std::vector<float> ActivationModel::Diagonal() const {
  std::vector<float> d(cols_, 0.f);
  if (!diag_.empty()) {
    for (int64_t j = 0; j < cols_; ++j) d[j] = static_cast<float>(diag_[j]);
    return d;
  }
  if (!gram_.empty()) {
    for (int64_t j = 0; j < cols_; ++j) d[j] = static_cast<float>(gram_[j * cols_ + j]);
    return d;
  }
  if (block_ > 0) {
    for (int64_t j = 0; j < cols_; ++j)
      d[j] = static_cast<float>(blocks_[(j / block_) * block_ * block_ +
                                        (j % block_) * (block_ + 1)]);
    return d;
  }
  for (int64_t t = 0; t < n_; ++t)
    for (int64_t j = 0; j < cols_; ++j) d[j] += x_[t * cols_ + j] * x_[t * cols_ + j] / n_;
  return d;
}

const double* ActivationModel::GramBlock(int64_t begin, int64_t n, int64_t* ld) const {
  if (!gram_.empty()) {
    *ld = cols_;
    return &gram_[begin * cols_ + begin];
  }
  if (block_ > 0 && begin % block_ == 0 && n <= block_) {
    *ld = block_;
    return &blocks_[(begin / block_) * block_ * block_];
  }
  return nullptr;
}

double ActivationModel::DiagonalError(const float* d, int64_t begin, int64_t n) const {
  double e = 0;
  for (int64_t j = 0; j < n; ++j) e += diag_[begin + j] * d[j] * d[j];
  return e;
}

void ActivationModel::GroupErrors(const float* d, int64_t begin, int64_t n, int64_t k,
                                  double* e) const {
  if (!diag_.empty()) {
    for (int64_t c = 0; c < k; ++c) e[c] = DiagonalError(d + c * n, begin, n);
    return;
  }
  int64_t ld = 0;
  if (const double* g = GramBlock(begin, n, &ld)) return QuadForms(g, ld, d, n, k, e);
  for (int64_t c = 0; c < k; ++c) e[c] = GroupError(d + c * n, begin, n);
}

double ActivationModel::GroupError(const float* d, int64_t begin, int64_t n) const {
  if (!diag_.empty()) return DiagonalError(d, begin, n);
  double e = 0;
  int64_t ld = 0;
  if (const double* g = GramBlock(begin, n, &ld)) {
    e = QuadForm(g, ld, d, n);  // as a sum of rows d_j G[j, :] (G is symmetric)
    return e;
  }
  for (int64_t t = 0; t < n_; ++t) {
    const float* xt = &x_[t * cols_ + begin];
    float s = 0;
    for (int64_t j = 0; j < n; ++j) s += xt[j] * d[j];
    e += static_cast<double>(s) * s;
  }
  return e / static_cast<double>(n_);
}

double ActivationModel::RowsError(const float* d, int64_t rows) const {
  double total = 0;
  if (!diag_.empty()) {
#pragma omp parallel for reduction(+ : total) schedule(static)
    for (int64_t r = 0; r < rows; ++r) total += DiagonalError(d + r * cols_, 0, cols_);
    return total;
  }
  // Whichever is cheaper: d^T G d costs cols^2 per row, the sample n*cols.
  if (!gram_.empty() && (x_.empty() || cols_ <= n_)) {
#pragma omp parallel for reduction(+ : total) schedule(static)
    for (int64_t r = 0; r < rows; ++r) total += GroupError(d + r * cols_, 0, cols_);
    return total;
  }
  // P = D X^T ([rows, n]) by SubMatMul (P starts at 0 and gets -D X^T).
  const int64_t n_tasks = (rows + kRowsPerTask - 1) / kRowsPerTask;
#pragma omp parallel for reduction(+ : total) schedule(dynamic)
  for (int64_t task = 0; task < n_tasks; ++task) {
    const int64_t r0 = task * kRowsPerTask, m = std::min(kRowsPerTask, rows - r0);
    std::vector<float> p(static_cast<size_t>(m * n_), 0.f);
    gemm::SubMatMul(m, n_, cols_, d + r0 * cols_, cols_, xt_.data(), n_, p.data(), n_);
    double e = 0;
    for (float v : p) e += static_cast<double>(v) * v;
    total += e / static_cast<double>(n_);
  }
  return total;
}

}  // namespace glmq::calib
