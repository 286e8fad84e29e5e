// The GLM-4 model for the reference runtime: the text tensors of the tensor
// table (schema/tensors.h) loaded from a WeightSource (checked zero-copy
// views; norms and biases converted to f32), each shape checked against the
// hyperparameters once, here. The forward pass itself runs in a Session
// (runtime/session.h), which owns the KV cache and the working buffers.
// Semantics: ../shared/fixtures/README.md and specs/glm4-tensors.md.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "schema/glmq.pb.h"
#include "runtime/backend.h"
#include "schema/tensors.h"
#include "runtime/weights.h"

namespace glmq {

struct LayerWeights {
  std::vector<float> attn_norm;       // [hidden]
  WeightView attn_qkv;                // [(n_heads + 2 n_kv) head_dim, hidden], rows q|k|v
  std::vector<float> attn_qkv_bias;   // [(n_heads + 2 n_kv) head_dim] or empty
  WeightView attn_output;             // [hidden, n_heads head_dim]
  std::vector<float> attn_output_bias;  // [hidden] or empty
  std::vector<float> post_attn_norm;  // [hidden], 0414 only
  std::vector<float> ffn_norm;        // [hidden]
  WeightView ffn_gate_up;             // [2 ffn, hidden], rows gate|up
  std::vector<float> ffn_gate_up_bias;  // [2 ffn] or empty
  WeightView ffn_down;                // [hidden, ffn]
  std::vector<float> ffn_down_bias;   // [hidden] or empty
  std::vector<float> post_ffn_norm;   // [hidden], 0414 only
};

class Model {
 public:
  // Loads and checks every tensor the forward pass needs. `backend` null:
  // a CpuBackend with OpenMP's default thread count.
  // Errors name the source and the tensor or hyperparameter.
  static absl::StatusOr<std::unique_ptr<Model>> Load(std::unique_ptr<WeightSource> source,
                                                     std::unique_ptr<Backend> backend = nullptr);

  const pb::HParams& hparams() const { return source_->hparams(); }
  const WeightSource& source() const { return *source_; }
  Backend& backend() const { return *backend_; }
  const WeightView& token_embd() const { return token_embd_; }
  const std::vector<LayerWeights>& layers() const { return layers_; }
  const std::vector<float>& output_norm() const { return output_norm_; }
  const WeightView& output() const { return output_; }
  // Bytes of weights one decoded token reads: every matrix of every layer,
  // the output projection and one embedding row (norms and biases included).
  uint64_t WeightBytesPerToken() const;

 private:
  Model() = default;
  absl::Status LoadTensor(const ModelTensor& t);
  // Hands every matrix and table to Backend::PrepareWeight (a device
  // backend uploads them here, once).
  absl::Status PrepareWeights();
  std::unique_ptr<WeightSource> source_;
  std::unique_ptr<Backend> backend_;
  WeightView token_embd_;
  std::vector<LayerWeights> layers_;
  std::vector<float> output_norm_;
  WeightView output_;
};

}  // namespace glmq
