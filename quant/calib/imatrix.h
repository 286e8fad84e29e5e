// imatrix: the per-input-channel importance E[x_j^2] of a linear layer's
// input, the weight of channel j's squared rounding error in the
// importance-weighted scale search of QuantizeMatrix (quant/quantize.h).
// E[(x . d)^2] = sum_j E[x_j^2] d_j^2 when channels are uncorrelated, so
// this is the diagonal of GPTQ's Hessian (up to the factor 2).
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace glmq::calib {

// importance[j] = sum_x2[j] / count, floored at 1e-6 * mean so that never
// seen channels still count a little (an all-zero weight would let the
// search put any error there). Error for count <= 0 or a negative or
// non-finite sum.
absl::StatusOr<std::vector<float>> ImatrixImportance(const std::vector<double>& sum_x2,
                                                     int64_t count);

}  // namespace glmq::calib
