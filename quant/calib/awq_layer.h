// AWQ over one GLM-4 block: the scale searches in dependency order and the
// exact folding of the scales into the neighbouring tensors, so that the
// file needs no extra tensors (specs/calibration.md):
//   attn_qkv input  (attn_norm output):  W_qkv[:, j] *= s, attn_norm[j] /= s
//   attn_output input (context):         W_o[:, c] *= s_ctx[c], v rows (and
//       bias) of attn_qkv /= s_v; with GQA the context channel c = h*hd + d
//       comes from v channel (h / group)*hd + d, so s_ctx is searched on E|x|
//       pooled over each group's query heads and is equal across it
//   ffn_gate_up input (ffn_norm output): W_gu[:, j] *= s, ffn_norm[j] /= s
//   ffn_down input (silu(gate) * up):    W_down[:, j] *= s, up rows /= s
//   output input (output_norm output):   W_out[:, j] *= s, output_norm /= s
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "schema/glmq.pb.h"
#include "quant/calib/activations.h"
#include "quant/calib/awq.h"

namespace glmq::calib {

struct BlockDims {
  int64_t hidden = 0, n_heads = 0, n_kv_heads = 0, head_dim = 0, ffn = 0;
};

// f32 copies of one block's tensors (canonical layouts, [out, in]).
struct BlockTensors {
  std::vector<float> attn_norm;    // [hidden]
  std::vector<float> qkv;          // [(n_heads + 2 n_kv) hd, hidden]
  std::vector<float> qkv_bias;     // [(n_heads + 2 n_kv) hd] or empty
  std::vector<float> attn_output;  // [hidden, n_heads hd]
  std::vector<float> ffn_norm;     // [hidden]
  std::vector<float> gate_up;      // [2 ffn, hidden]
  std::vector<float> down;         // [hidden, ffn]
};

// Calibration statistics of the block's four linear inputs.
struct BlockInputs {
  const ActivationModel* qkv = nullptr;   // attn_norm output, [hidden]
  const ActivationModel* ctx = nullptr;   // attention context, [n_heads hd]
  const ActivationModel* ffn = nullptr;   // ffn_norm output, [hidden]
  const ActivationModel* down = nullptr;  // silu(gate) * up, [ffn]
  std::vector<float> qkv_abs, ctx_abs, ffn_abs, down_abs;  // E|x| per channel
};

// The block's scales (each > 0); applying them is exact in real arithmetic.
struct BlockScales {
  std::vector<float> qkv_in;  // [hidden]
  std::vector<float> ctx;     // [n_heads hd], equal across GQA groups
  std::vector<float> v;       // [n_kv hd]: ctx per kv channel
  std::vector<float> ffn_in;  // [hidden]
  std::vector<float> down_in; // [ffn]
  double alpha[4] = {0, 0, 0, 0};       // qkv, ctx, ffn, down
  double loss[4] = {0, 0, 0, 0};        // AWQ loss at the best alpha
  double loss_rtn[4] = {0, 0, 0, 0};    // ... and at alpha = 0
};

// Searches the four scales of a block (down, then gate_up with the up rows
// already divided, then attn_output, then qkv with the v rows divided).
// `spec`: the target encoding of the block's linears.
absl::StatusOr<BlockScales> AwqSearchBlock(const BlockDims& dims, const BlockTensors& t,
                                           const BlockInputs& in, const QuantSpec& spec,
                                           const AwqOptions& options);

// How one stored tensor changes: value[r][c] = value[r][c] * col_mul[c] /
// row_div[r] (1-D tensors: rows = length, cols = 1). Empty vectors = 1.
struct TensorFold {
  std::vector<float> col_mul;
  std::vector<float> row_div;
  bool empty() const { return col_mul.empty() && row_div.empty(); }
  // True when applying the fold changes nothing (no vectors, or all 1: the
  // scales of alpha = 0).
  bool identity() const {
    auto ones = [](const std::vector<float>& v) {
      for (float x : v)
        if (x != 1.f) return false;
      return true;
    };
    return ones(col_mul) && ones(row_div);
  }
};

// The fold of canonical tensor `role` ("attn_norm.weight", "attn_qkv.weight",
// "attn_qkv.bias", "attn_output.weight", "ffn_norm.weight",
// "ffn_gate_up.weight", "ffn_gate_up.bias", "ffn_down.weight"); empty for
// any other tensor.
TensorFold BlockFold(const BlockDims& dims, const BlockScales& s, pb::Role role);

// Applies `fold` to rows [row_begin, row_begin + n_rows) of a tensor with
// `cols` columns, held in w[n_rows, cols].
void ApplyFold(const TensorFold& fold, float* w, int64_t row_begin, int64_t n_rows,
               int64_t cols);

// Applies all folds of a block to t in place.
void FoldBlock(const BlockDims& dims, const BlockScales& s, BlockTensors* t);

}  // namespace glmq::calib
