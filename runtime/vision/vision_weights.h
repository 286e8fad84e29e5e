// The weights of a GLM-4 vision tower as views into a WeightSource, found by
// the canonical names of the tensor table (schema/tensors.h, rows "v.*"):
// linear and convolution matrices stay in their stored encoding (bf16, q8,
// ...) and go through Backend::MatMul; norms, biases and the small learned
// vectors are converted to f32 at load. Every shape is checked against the
// table at load and a mismatch names the tensor.
//
// Convolutions are stored as matrices over their receptive field (the
// table's canonical shape): a Conv2d weight [out, in, kh, kw] is the matrix
// [out, in * kh * kw] (columns in (in, kh, kw) order), a Conv3d
// [out, C, T, p, p] is [out, C * T * p * p].
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/backend.h"
#include "runtime/vision/vision_config.h"
#include "runtime/weights.h"
#include "schema/tensors.h"

namespace glmq {

// One ViT block. EVA2-CLIP is post-norm: attn_norm / ffn_norm are LayerNorms
// applied to the attention / MLP outputs (weight + bias). GLM-4.1V is
// pre-norm: they are RMSNorms of the block inputs (weight only).
struct VisionLayerWeights {
  std::vector<float> attn_norm;       // [hidden]
  std::vector<float> attn_norm_bias;  // [hidden], EVA2-CLIP only
  WeightView attn_qkv;                // [3 hidden, hidden], rows q|k|v, heads inside each
  std::vector<float> attn_qkv_bias;   // [3 hidden] or empty
  WeightView attn_out;                // [hidden, hidden]
  std::vector<float> attn_out_bias;   // [hidden], EVA2-CLIP only
  std::vector<float> ffn_norm;        // [hidden]
  std::vector<float> ffn_norm_bias;   // [hidden], EVA2-CLIP only
  WeightView ffn_gate;                // [mlp, hidden], GLM-4.1V only (SwiGLU gate)
  WeightView ffn_up;                  // [mlp, hidden] (EVA2-CLIP fc1)
  std::vector<float> ffn_up_bias;     // [mlp], EVA2-CLIP only
  WeightView ffn_down;                // [hidden, mlp] (EVA2-CLIP fc2)
  std::vector<float> ffn_down_bias;   // [hidden], EVA2-CLIP only
};

struct VisionWeights {
  WeightView patch_embed;               // [hidden, C * T * p * p] (the conv as a matrix)
  std::vector<float> patch_embed_bias;  // [hidden]
  std::vector<float> cls;               // [hidden], EVA2-CLIP only
  WeightView pos_embed;                 // [n_positions, hidden], dense encodings only
  std::vector<float> post_conv_norm;    // [hidden] RMSNorm, GLM-4.1V only
  std::vector<VisionLayerWeights> layers;
  std::vector<float> post_norm;         // [hidden] RMSNorm, GLM-4.1V only
  WeightView downsample;                // [out_hidden, hidden * 4]: the 2x2 stride-2 conv
  std::vector<float> downsample_bias;   // [out_hidden]
  WeightView merger_proj;               // [out_hidden, out_hidden]
  std::vector<float> merger_norm;       // [out_hidden] LayerNorm weight
  std::vector<float> merger_norm_bias;  // [out_hidden]
  WeightView merger_gate;               // [merger, out_hidden]
  WeightView merger_up;                 // [merger, out_hidden]
  WeightView merger_down;               // [out_hidden, merger]
  std::vector<float> boi, eoi;          // [out_hidden], EVA2-CLIP only
};

// Loads every vision tensor the table lists for source.hparams() (which must
// describe the same tower as c; CheckVisionConfig(c) must hold). Views stay
// valid while `source` lives. Errors name the tensor and the source.
absl::StatusOr<VisionWeights> LoadVisionWeights(const WeightSource& source, const VisionConfig& c);

// A dense (f32 / f16 / bf16) view as f32 values [rows * cols]; empty for a
// quantized view. LoadVisionWeights checks that pos_embed is dense.
std::vector<float> DenseToF32(const WeightView& w);

// How the tower uses a vision tensor of the table.
enum class VisionUse : uint8_t {
  kMatrix,  // multiplied through Backend::MatMul: any encoding
  kTable,   // the position table, read row by row: dense
  kVector,  // norms, biases, CLS, boi / eoi: dense, converted to f32
};
struct VisionTensor {
  ModelTensor tensor;
  VisionUse use;
};
// Every vision tensor of hp's tower in file order, with its use (tests,
// synthetic towers, quantization rules).
absl::StatusOr<std::vector<VisionTensor>> VisionTensors(const pb::HParams& hp);

}  // namespace glmq
