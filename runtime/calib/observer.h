// The hook through which the forward pass (runtime/session.h) shows every
// linear layer's input to calibration (runtime/calib/stats.h). Header-only
// so that glmq_runtime needs no link dependency on glmq_calib.
#pragma once

#include <cstdint>
#include <string>

#include "schema/glmq.pb.h"

namespace glmq {

// The linear layers of a GLM-4 block plus the output projection, named by
// the canonical weight that consumes the input.
enum class LinearInput : int {
  kAttnQkv = 0,    // attn_norm output            -> blk.i.attn_qkv.weight
  kAttnOutput = 1, // attention context           -> blk.i.attn_output.weight
  kFfnGateUp = 2,  // ffn_norm output             -> blk.i.ffn_gate_up.weight
  kFfnDown = 3,    // silu(gate) * up             -> blk.i.ffn_down.weight
  kOutput = 4,     // output_norm output (layer -1) -> output.weight
};

// "blk.3.attn_qkv.weight", "output.weight".
inline std::string LinearWeightName(int layer, LinearInput which) {
  static const char* const kNames[] = {"attn_qkv", "attn_output", "ffn_gate_up", "ffn_down"};
  if (which == LinearInput::kOutput) return "output.weight";
  return "blk." + std::to_string(layer) + "." + kNames[static_cast<int>(which)] + ".weight";
}

// Channels of that input in a model of these hyperparameters.
inline int64_t LinearInputCols(const pb::HParams& hp, LinearInput which) {
  if (which == LinearInput::kAttnOutput) return hp.n_heads() * hp.head_dim();
  if (which == LinearInput::kFfnDown) return hp.ffn_hidden_size();
  return hp.hidden_size();
}

class ActivationObserver {
 public:
  virtual ~ActivationObserver() = default;
  // x: [n_tokens, cols] f32, valid only during the call. Called from the
  // thread running the forward pass, in forward order.
  virtual void Observe(int layer, LinearInput which, const float* x, int64_t n_tokens,
                       int64_t cols) = 0;
};

}  // namespace glmq
