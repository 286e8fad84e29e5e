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

struct GptqOptions {
  // Dampening: lambda = damp * mean(diag H) is added to the diagonal
  // (GPTQ's percdamp). On a Cholesky failure it is multiplied by 10 and
  // retried, up to lambda = mean(diag H).
  double damp = 0.01;
  int block_size = 128;  // columns per lazy-batch block
  // Quantize columns in order of decreasing diag(H) (GPTQ's act_order /
  // desc_act). Groups stay the file's contiguous column groups; a group's
  // scale is fitted when its first column comes up in that order, from the
  // group's error-updated weights at that moment.
  bool act_order = true;
  // Fill GptqReport::proxy_loss (costs about as much as the sweep itself).
  bool compute_loss = false;
};

struct GptqReport {
  double damp_used = 0;       // lambda actually added (absolute)
  int64_t dead_channels = 0;  // columns with H[i][i] == 0 (never active)
  // sum over rows of (w - q)^T H (w - q) / rows: the proxy loss GPTQ
  // minimises (for comparing with RTN on the same H).
  double proxy_loss = 0;
};

// Quantizes w [rows, cols] with Hessian h [cols, cols] (symmetric, e.g.
// 2 X^T X / n in f64) into out[rows * row_bytes] in spec.encoding /
// spec.group_size (spec.search_grid is ignored). Dead channels (H[i][i] ==
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
};
// H = h_scale * h[cols, cols] (h: e.g. the raw X^T X, h_scale = 2 / n, so no
// scaled copy is needed). Memory: one cols^2 f64 buffer (factored in place,
// then converted to the f32 U in place and shrunk), so the peak is
// 8 cols^2 bytes on top of h.
// `loaded` (optional) is called once h has been read: h may be freed then.
absl::StatusOr<GptqPrepared> GptqPrepare(const double* h, int64_t cols, double h_scale,
                                         const GptqOptions& options,
                                         const std::function<void()>& loaded = {});
absl::StatusOr<GptqPrepared> GptqPrepare(const std::vector<double>& h, int64_t cols,
                                         const GptqOptions& options);
// Quantizes w [rows, cols] into out[rows * row_bytes] with a prepared H.
absl::Status GptqQuantizeRows(const GptqPrepared& prep, const float* w, int64_t rows,
                              const QuantSpec& spec, int block_size, uint8_t* out);

// (w - deq)^T H (w - deq) summed over rows, divided by rows; deq is `codes`
// decoded. Shared by GPTQ's report and the tests' RTN comparison.
double HessianLoss(const float* w, const float* deq, int64_t rows, int64_t cols,
                   const std::vector<double>& h);

}  // namespace glmq::calib
