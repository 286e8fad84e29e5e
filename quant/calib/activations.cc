#include "quant/calib/activations.h"

#include "absl/strings/str_cat.h"

namespace glmq::calib {

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

absl::StatusOr<ActivationModel> ActivationModel::FromSamples(std::vector<float> x, int64_t n,
                                                             int64_t cols) {
  if (cols <= 0 || n <= 0 || static_cast<int64_t>(x.size()) != n * cols)
    return absl::InvalidArgumentError(
        absl::StrCat(x.size(), " sample values for ", n, " rows of ", cols, " channels"));
  ActivationModel m;
  m.cols_ = cols;
  m.x_ = std::move(x);
  m.n_ = n;
  return m;
}

ActivationModel ActivationModel::Scaled(const std::vector<float>& s) const {
  ActivationModel m = *this;
  if (!gram_.empty())
    for (int64_t i = 0; i < cols_; ++i)
      for (int64_t j = 0; j < cols_; ++j)
        m.gram_[i * cols_ + j] /= static_cast<double>(s[i]) * static_cast<double>(s[j]);
  for (int64_t t = 0; t < n_; ++t)
    for (int64_t j = 0; j < cols_; ++j) m.x_[t * cols_ + j] /= s[j];
  return m;
}

std::vector<float> ActivationModel::Diagonal() const {
  std::vector<float> d(cols_, 0.f);
  if (!gram_.empty()) {
    for (int64_t j = 0; j < cols_; ++j) d[j] = static_cast<float>(gram_[j * cols_ + j]);
    return d;
  }
  for (int64_t t = 0; t < n_; ++t)
    for (int64_t j = 0; j < cols_; ++j) d[j] += x_[t * cols_ + j] * x_[t * cols_ + j] / n_;
  return d;
}

double ActivationModel::GroupError(const float* d, int64_t begin, int64_t n) const {
  double e = 0;
  if (!gram_.empty()) {
    for (int64_t i = 0; i < n; ++i) {
      if (d[i] == 0.f) continue;
      const double* gi = &gram_[(begin + i) * cols_ + begin];
      double s = 0;
      for (int64_t j = 0; j < n; ++j) s += gi[j] * d[j];
      e += d[i] * s;
    }
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
  // Whichever is cheaper: d^T G d costs cols^2 per row, the sample n*cols.
  const bool use_gram = !gram_.empty() && (x_.empty() || cols_ <= n_);
#pragma omp parallel for reduction(+ : total) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const float* dr = d + r * cols_;
    if (use_gram) {
      total += GroupError(dr, 0, cols_);
      continue;
    }
    double e = 0;
    for (int64_t t = 0; t < n_; ++t) {
      const float* xt = &x_[t * cols_];
      float s = 0;
      for (int64_t j = 0; j < cols_; ++j) s += xt[j] * dr[j];
      e += static_cast<double>(s) * s;
    }
    total += e / static_cast<double>(n_);
  }
  return total;
}

}  // namespace glmq::calib
