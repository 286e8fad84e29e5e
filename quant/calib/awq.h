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
  int scale_grid = 20;       // alpha in {0, 1/20, ..., 19/20} (alpha = 0 is RTN)
  int clip_grid = 20;        // shrink steps of 1/clip_grid ...
  double max_shrink = 0.5;   // ... down to 1 - max_shrink (exclusive), as AutoAWQ
  bool clip = true;
  // Final encoding of the scaled (and clipped) weights: plain RTN, exactly
  // the candidate the clip search evaluated (false, AutoAWQ), or
  // QuantizeMatrix's scale search weighted by E[(x/s)_j^2] (true). Measured
  // on the fixtures in docs/calibration-results.md.
  bool final_search = false;
};

// Round-to-nearest fake quantization (QuantizeRowRef's rule: quantize, then
// decode) of w [rows, cols] into out [rows, cols]. spec.search_grid ignored.
absl::Status FakeQuantize(const float* w, int64_t rows, int64_t cols, const QuantSpec& spec,
                          float* out);

struct AwqScaleResult {
  std::vector<float> scale;  // [cols], s[j] > 0; multiply W's columns, divide x
  double alpha = 0;
  double loss = 0;           // sum_r E[(x . (w_r - Q(w_r s) / s))^2] at the best alpha
  double loss_rtn = 0;       // same at alpha = 0 (s = 1): plain RTN
};

// Grid search of alpha: s = mean_abs^alpha / sqrt(max * min) (normalised so
// the scales straddle 1, mean_abs clamped to >= 1e-8 relative to its max).
// mean_abs: [cols] E|x_j| (for a GQA attention output, already pooled so
// that channels sharing a v channel have equal values - the scales are then
// equal too). Errors: size mismatches, bad spec.
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
