// AWQ (Lin et al. 2023) for one linear layer: a per-input-channel scale
// s = E|x|^alpha that protects the channels with large activations (the
// weight columns are multiplied by s before quantization, the input divided
// by s, which the caller folds into the preceding op), then a per-group
// clipping search. Both minimise the layer's output error on calibration
// activations (ActivationModel). specs/calibration.md.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "quant/calib/activations.h"
#include "quant/quantize.h"

namespace glmq::calib {

struct AwqOptions {
  int scale_grid = 20;       // alpha in {0, 1/20, ..., 19/20} (alpha = 0 is no scaling)
  int clip_grid = 20;        // shrink steps of 1/clip_grid ...
  double max_shrink = 0.5;   // ... down to 1 - max_shrink (exclusive), as AutoAWQ
  // AutoAWQ's per-group clip search (clamp, then plain RTN). Off by default:
  // rank_by_output below searches rtn's candidate set instead.
  bool clip = false;
  // The quantizer inside the scale search and of the final encoding: rtn's
  // (QuantizeMatrix with the QuantSpec's scale search; alpha = 0 is then
  // exactly rtn) when true, plain absmax RTN (AutoAWQ) when false.
  bool searched_rtn = true;
  // Final encoding: each group's candidates (those of rtn's scale search and
  // their refits) ranked by the output error E[(x_g . d_g)^2] on the scaled
  // calibration input instead of the weight error. Since rtn's own choice is
  // among them, no group's output error exceeds rtn's on the scaled weights.
  bool rank_by_output = true;
  // Older variant (docs/calibration-results.md): rank by the diagonal
  // E[(x/s)_j^2] only. Ignored when rank_by_output.
  bool final_search = false;
  // The alpha search evaluates its loss on at most this many weight rows
  // (a uniform sample without replacement, fixed by `seed`; 0 = all rows):
  // the loss is a sum over independent rows, so a sample estimates it, and
  // the cost (20 rtn quantizations plus the output error per alpha) drops by
  // rows / search_rows. The final encoding always covers every row.
  int64_t search_rows = 1024;
  uint64_t seed = 1;
  // The alpha search's loss from E[x_j^2] alone (ActivationModel::
  // FromDiagonal: the imatrix, channels as if uncorrelated) instead of
  // E[x x^T] or the sample: what imatrix's equalisation uses (methods.h).
  bool diagonal = false;
  // Keep alpha = 0 (no scaling) unless the best alpha lowers the search's
  // loss by at least this fraction. imatrix's diagonal loss ignores the
  // channels' correlations: at int4-g128 on the gentle fixtures it predicted
  // gains of 0.1-9 % that came out as up to +13 % KL, while outlier inputs
  // show 49-97 % (docs/calibration-results.md); 0 = take any gain (AWQ).
  double min_gain = 0;
  // With `diagonal`: add to the loss the error of the runtime's activation
  // rounding over blocks of this many channels (ActivationRoundingError),
  // which channels far larger than their block's others inflate for the
  // whole block (SmoothQuant's reason to equalise); 0 = off (AWQ).
  int64_t act_block = 0;
};

// The expected squared output error that rounding x to int8 per block of
// `block` channels (step max|x_b| / 127, specs/encodings.md "Quantized
// matmul") adds, summed over the rows of w [rows, cols]:
// sum_r sum_j w_rj^2 E[step_b(j)^2] / 12, with E[step_b^2] taken as its lower
// bound max_{k in b} E[x_k^2] / 127^2 (e_x2: [cols] E[x_k^2]), so channels
// of equal scale add almost nothing and one 64x channel dominates its block.
double ActivationRoundingError(const float* w, int64_t rows, int64_t cols,
                               const std::vector<float>& e_x2, int64_t block);

// Fake quantization (quantize, then decode) of w [rows, cols] into out
// [rows, cols]: QuantizeRowRef's RTN rule for spec.search_grid == 0, else
// QuantizeMatrixWeighted's scale search (rtn without a weighting).
absl::Status FakeQuantize(const float* w, int64_t rows, int64_t cols, const QuantSpec& spec,
                          float* out, const QuantWeighting& weighting = {});

struct AwqScaleResult {
  std::vector<float> scale;  // [cols], s[j] > 0; multiply W's columns, divide x
  double alpha = 0;
  double loss = 0;           // sum_r E[(x . (w_r - Q(w_r s) / s))^2] at the best alpha
  double loss_rtn = 0;       // same at alpha = 0 (s = 1): plain RTN
  int64_t rows_searched = 0; // rows the losses were summed over (the sample)
};

// Grid search of alpha: s = mean_abs^alpha / sqrt(max * min) (normalised so
// the scales straddle 1, mean_abs clamped to >= 1e-8 relative to its max).
// With options.diagonal the quantizer inside is imatrix's (the scale search
// weighted by E[(x/s)_j^2] * sqrt(sigma2_row + w^2), E[x^2] floored as
// ImatrixImportance does), so alpha = 0 is exactly what imatrix stores.
// mean_abs: [cols] E|x_j| (for a GQA attention output, already pooled so
// that channels sharing a v channel have equal values - the scales are then
// equal too). The losses are over options.search_rows sampled rows (scaled
// to all rows). Errors: size mismatches, bad spec.
absl::StatusOr<AwqScaleResult> AwqSearchScale(const float* w, int64_t rows, int64_t cols,
                                              const ActivationModel& act,
                                              const std::vector<float>& mean_abs,
                                              const QuantSpec& spec, const AwqOptions& options);

// Per row and group, the shrink ratio r (1 = none) whose clamped-then-RTN
// group has the smallest output error E[(x_g . d_g)^2]. w: [rows, cols]
// already scaled; act: the model of the (scaled) input. Returns
// [rows * n_groups] ratios.
absl::StatusOr<std::vector<float>> AwqSearchClip(const float* w, int64_t rows, int64_t cols,
                                                 const ActivationModel& act,
                                                 const QuantSpec& spec,
                                                 const AwqOptions& options);

// Clamps each group of rows [0, rows) of w in place to its ratio's range:
// symmetric encodings [-r max|w|, r max|w|], q4a [r min, r max] (AutoAWQ's
// rule). `ratios` is [rows * n_groups]; RTN of the result is what
// AwqSearchClip evaluated.
absl::Status ApplyClip(float* w, int64_t rows, int64_t cols, const QuantSpec& spec,
                       const float* ratios);

}  // namespace glmq::calib
