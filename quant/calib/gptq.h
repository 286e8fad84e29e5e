// GPTQ (Frantar et al. 2022): quantizes a [rows, cols] weight column by
// column, pushing each column's rounding error onto the columns not yet
// quantized through the inverse Hessian of the layer's reconstruction loss
// ||W X - Q(W) X||^2, H = 2 X X^T / n. Output is the file encoding's bytes
// (quant/reference.h PackGroup), so what GPTQ optimised is exactly what is
// stored. Details and choices: specs/calibration.md.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "quant/quantize.h"

namespace glmq::calib {

// How the dampening lambda is chosen (added to H's diagonal before the
// factorisation).
enum class GptqDamp {
  // lambda = damp * mean(diag H) on every channel (GPTQ's percdamp). A few
  // outlier channels with 10^3x larger H_jj make the mean, and so lambda,
  // large for all others: at 1 % and the outlier fixture's 4 of 256
  // channels at 4096x, lambda is 0.65 of a normal channel's H_jj, which
  // almost switches GPTQ's error feedback off for them.
  kMeanDiag,
  // lambda_j = damp * H_jj: every channel damped by the same fraction of its
  // own scale (dampening the correlation matrix D^-1/2 H D^-1/2 by damp * I),
  // so rescaling input channels (as outliers do) does not change it.
  kRelative,
};

// Where a group's scale (and min) comes from. Groups are always the file's
// contiguous column groups of the original order (the format has no g_idx).
enum class GptqGroups {
  // Fitted by absmax RTN when the group's first column comes up in the
  // quantization order, from the group's error-updated weights (GPTQ's
  // static_groups=false; with act_order a lazy variant of it).
  kLazy,
  // Fitted before the sweep from the original weights by absmax RTN
  // (GPTQModel's static_groups=true): the same scales whatever the order.
  kStatic,
  // Fitted before the sweep from the original weights by rtn's scale search
  // (QuantizeMatrixWeighted, spec.search_grid) with each element's squared
  // error weighted by H_jj * sqrt(sigma2_row + w^2), as imatrix does: the
  // scales may clip, and the sweep feeds the clipping error forward.
  kStaticSearched,
};

struct GptqOptions {
  // Dampening factor, see GptqDamp. On a Cholesky failure it is multiplied
  // by 10 and retried, up to lambda = mean(diag H) (kMeanDiag) or H_jj
  // (kRelative).
  double damp = 0.01;
  GptqDamp damp_mode = GptqDamp::kRelative;
  int block_size = 128;  // columns per lazy-batch block
  // Quantize columns in order of decreasing diag(H) (GPTQ's act_order /
  // desc_act). Groups stay the file's contiguous column groups (GptqGroups).
  bool act_order = true;
  GptqGroups groups = GptqGroups::kStaticSearched;
  // Fill GptqReport::proxy_loss (costs about as much as the sweep itself).
  bool compute_loss = false;
};

struct GptqReport {
  double damp_used = 0;       // mean lambda actually added to the diagonal (absolute)
  int64_t dead_channels = 0;  // columns with H[i][i] == 0 (never active)
  // sum over rows of (w - q)^T H (w - q) / rows: the proxy loss GPTQ
  // minimises (for comparing with RTN on the same H).
  double proxy_loss = 0;
};

// Quantizes w [rows, cols] with Hessian h [cols, cols] (symmetric, e.g.
// 2 X^T X / n in f64) into out[rows * row_bytes] in spec.encoding /
// spec.group_size (spec.search_grid: see GptqGroups::kStaticSearched). Dead channels (H[i][i] ==
// 0) get H[i][i] = 1: their column is rounded with no error feedback (and
// kept, not zeroed: the calibration text may just not have used them).
// OpenMP over row tiles. Errors: bad encoding, group size or sizes, a
// non-finite weight, H not positive definite even after dampening.
absl::StatusOr<GptqReport> GptqQuantize(const float* w, int64_t rows, int64_t cols,
                                        const std::vector<double>& h, const QuantSpec& spec,
                                        const GptqOptions& options, uint8_t* out);

// The row-independent part of GPTQ, computed once per tensor: column order
// and the upper Cholesky factor of the dampened inverse Hessian. Rows can
// then be quantized in any chunks (GptqQuantizeRows) with the same result.
// Memory from malloc (so the factor can shrink from f64 to f32 in place).
struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};
struct GptqPrepared {
  int64_t cols = 0;
  std::vector<int64_t> perm, pos;  // act order: position p holds column perm[p]
  std::unique_ptr<float[], FreeDeleter> u;  // [cols, cols] upper, permuted order
  GptqReport report;               // damp_used, dead_channels
  GptqGroups groups = GptqGroups::kLazy;
  std::vector<float> h_diag;  // [cols] H_jj, original order (kStaticSearched only)
};
// H = h_scale * C h[cols, cols] C with C = diag(col_scale) (all 1 when
// col_scale is empty) (h: e.g. the raw X^T X, h_scale = 2 / n, so no scaled
// copy is needed; col_scale: 1 / s for an input divided by AWQ scales s). Memory: one cols^2 f64
// buffer (factored in place, then converted to the f32 U in place and shrunk), so the peak is 8
// cols^2 bytes on top of h. `loaded` (optional) is called once h has been read: h may be freed
// then.
absl::StatusOr<GptqPrepared> GptqPrepare(const double* h, int64_t cols, double h_scale,
                                         const GptqOptions& options,
                                         const std::function<void()>& loaded = {},
                                         const std::vector<float>& col_scale = {});
absl::StatusOr<GptqPrepared> GptqPrepare(const std::vector<double>& h, int64_t cols,
                                         const GptqOptions& options);
// Quantizes w [rows, cols] into out[rows * row_bytes] with a prepared H
// (spec.search_grid is used by GptqGroups::kStaticSearched only).
absl::Status GptqQuantizeRows(const GptqPrepared& prep, const float* w, int64_t rows,
                              const QuantSpec& spec, int block_size, uint8_t* out);

// (w - deq)^T H (w - deq) summed over rows, divided by rows; deq is `codes`
// decoded. Shared by GPTQ's report and the tests' RTN comparison.
double HessianLoss(const float* w, const float* deq, int64_t rows, int64_t cols,
                   const std::vector<double>& h);

}  // namespace glmq::calib
