// The tensors a model holds, enumerated from its canonical HParams with the
// shapes convert writes (specs/glm4-tensors.md), plus the vision tower under
// its Hugging Face names. The planner sizes these under every weight scheme;
// nothing here reads a checkpoint.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "schema/glmq.pb.h"

namespace glmq::plan {

struct PlanTensor {
  std::string name;            // canonical ("blk.3.attn_qkv.weight") or HF name for vision
  pb::Role role;
  int layer;                   // -1 outside the blocks
  std::vector<int64_t> shape;  // row-major, [out, in] for weights
};

// Checks the fields the planner needs (positive sizes, heads dividing, a
// known layout) and names the first bad one: "hparams: field 'n_kv_heads'
// is 0".
absl::Status ValidateHParams(const pb::HParams& hp);

// Language-model tensors in file order: token_embd, per block attn_norm,
// attn_qkv (+bias), attn_output (+bias), [post_attn_norm], ffn_norm,
// ffn_gate_up (+bias), ffn_down (+bias), [post_ffn_norm], then output_norm
// and output (absent when tied).
absl::StatusOr<std::vector<PlanTensor>> LanguageModelTensors(const pb::HParams& hp);

// Vision-tower tensors (role VISION) for LAYOUT_CHATGLM_VISION (EVA2-CLIP
// under "transformer.vision.") and LAYOUT_GLM4V (AIMv2 ViT under
// "model.visual."); empty for text-only layouts.
absl::StatusOr<std::vector<PlanTensor>> VisionTensors(const pb::HParams& hp);

// Tensors the Hugging Face checkpoint stores but the runtime never loads:
// ChatGLM-format repos keep "transformer.rotary_pos_emb.inv_freq" [rope_dims/2]
// (bf16, 64 bytes for GLM-4-9B). Counted in the source checkpoint size only.
std::vector<PlanTensor> SourceOnlyTensors(const pb::HParams& hp);

// LanguageModelTensors + VisionTensors.
absl::StatusOr<std::vector<PlanTensor>> RuntimeTensors(const pb::HParams& hp);

}  // namespace glmq::plan
