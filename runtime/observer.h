// The hook through which the forward pass (runtime/session.h) shows every
// linear layer's input to calibration (runtime/calib/stats.h). The inputs
// and the weights that read them are those of the tensor table
// (schema/tensors.h: LinearInput, LinearWeightName). Header-only so that
// calibration (runtime/calib) builds on the runtime, not the other way.
#pragma once

#include <cstdint>

#include "schema/tensors.h"

namespace glmq {

class ActivationObserver {
 public:
  virtual ~ActivationObserver() = default;
  // x: [n_tokens, cols] f32, valid only during the call. Called from the
  // thread running the forward pass, in forward order.
  virtual void Observe(int layer, LinearInput which, const float* x, int64_t n_tokens,
                       int64_t cols) = 0;
};

}  // namespace glmq
