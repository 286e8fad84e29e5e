// What the calibrated quantizers know about one linear layer's input x
// ([cols] channels): its second moment G = E[x x^T] (from the GPTQ
// statistics, whole or only its diagonal blocks) and/or a subsample of rows.
// It answers one question: the expected squared output error
// E[(x . d)^2] = d^T G d of a weight-row error d (whole row or one group).
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace glmq::calib {

class ActivationModel {
 public:
  // From E[x x^T] (cols x cols, f64) - exact over all calibration tokens.
  static absl::StatusOr<ActivationModel> FromGram(std::vector<double> gram, int64_t cols);
  // From n sample rows x[n, cols] - E over the sample.
  static absl::StatusOr<ActivationModel> FromSamples(std::vector<float> x, int64_t n,
                                                      int64_t cols);
  // From E[x_j^2] alone (cols values, the imatrix): channels treated as
  // uncorrelated, E[(x . d)^2] = sum_j E[x_j^2] d_j^2. Needs neither X^T X
  // nor samples.
  static absl::StatusOr<ActivationModel> FromDiagonal(std::vector<double> diag);
  // Adds the diagonal blocks [k b, (k + 1) b)^2 of E[x x^T] = scale * xtx
  // (xtx: [cols, cols]) to a sample model: GroupError is then exact (all
  // tokens) for groups inside one block, at cols * b doubles instead of
  // cols^2. Error if the model has no samples or b <= 0.
  absl::Status AddGramBlocks(const double* xtx, double scale, int64_t b);

  int64_t cols() const { return cols_; }
  bool has_gram() const { return !gram_.empty(); }
  bool is_diagonal() const { return !diag_.empty(); }
  int64_t n_samples() const { return n_; }

  // The model of x / s (channel j divided by s[j]): what a linear sees
  // after its input scale s was folded into the preceding norm or rows.
  ActivationModel Scaled(const std::vector<float>& s) const;

  // E[x_j^2] per channel (the diagonal of G).
  std::vector<float> Diagonal() const;

  // sum over the `rows` rows of d (each [cols]) of E[(x . d_r)^2]: with the
  // whole G when the model has it and (no sample or cols <= n), else on the
  // sample (a GEMM: rows * cols * n multiply-adds). OpenMP inside.
  double RowsError(const float* d, int64_t rows) const;
  // E[(x[begin:begin+n] . d)^2] for one group of one row; d: [n]. Whole G,
  // else a diagonal block of G holding the group, else the sample.
  double GroupError(const float* d, int64_t begin, int64_t n) const;
  // GroupError of k differences d + c n over the same group: e[c]. With the
  // Gram matrix or its blocks, one QuadForms call (the same values).
  void GroupErrors(const float* d, int64_t begin, int64_t n, int64_t k, double* e) const;

 private:
  // sum_j diag_[begin + j] d_j^2 (FromDiagonal models).
  double DiagonalError(const float* d, int64_t begin, int64_t n) const;
  // G's block for the group [begin, begin + n) (whole G or a diagonal
  // block), with its leading dimension, or null (use the sample).
  const double* GramBlock(int64_t begin, int64_t n, int64_t* ld) const;
  int64_t cols_ = 0;
  std::vector<double> gram_;    // [cols, cols] or empty
  std::vector<double> diag_;    // [cols] (FromDiagonal) or empty
  int64_t block_ = 0;           // size of the diagonal blocks, 0 = none
  std::vector<double> blocks_;  // [n_blocks, block, block] (last one partial)
  std::vector<float> x_;        // [n, cols] or empty
  std::vector<float> xt_;       // [cols, n]: x_ transposed (RowsError's GEMM)
  int64_t n_ = 0;
};

}  // namespace glmq::calib
