#include "plan/model_tensors.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "core/status.h"

namespace glmq::plan {
namespace {

absl::Status Positive(int64_t value, absl::string_view field, absl::string_view where) {
  if (value > 0 && value <= (int64_t{1} << 40)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(where, ": field '", field, "' is ", value, " (must be positive)"));
}

void Add(std::vector<PlanTensor>* out, std::string name, pb::Role role, int layer,
         std::vector<int64_t> shape) {
  out->push_back({std::move(name), role, layer, std::move(shape)});
}

absl::Status ValidateVision(const pb::HParams& hp) {
  const pb::VisionHParams& v = hp.vision();
  const char* w = "hparams.vision";
  GLMQ_RETURN_IF_ERROR(Positive(v.n_layers(), "n_layers", w));
  GLMQ_RETURN_IF_ERROR(Positive(v.hidden_size(), "hidden_size", w));
  GLMQ_RETURN_IF_ERROR(Positive(v.n_heads(), "n_heads", w));
  GLMQ_RETURN_IF_ERROR(Positive(v.ffn_hidden_size(), "ffn_hidden_size", w));
  GLMQ_RETURN_IF_ERROR(Positive(v.patch_size(), "patch_size", w));
  GLMQ_RETURN_IF_ERROR(Positive(v.image_size(), "image_size", w));
  GLMQ_RETURN_IF_ERROR(Positive(v.in_channels(), "in_channels", w));
  GLMQ_RETURN_IF_ERROR(Positive(v.out_hidden_size(), "out_hidden_size", w));
  GLMQ_RETURN_IF_ERROR(Positive(v.spatial_merge_size(), "spatial_merge_size", w));
  GLMQ_RETURN_IF_ERROR(Positive(v.image_tokens(), "image_tokens", w));
  if (v.image_size() % v.patch_size() != 0)
    return absl::InvalidArgumentError(absl::StrCat(w, ": field 'image_size' (", v.image_size(),
                                                   ") is not a multiple of patch_size (",
                                                   v.patch_size(), ")"));
  return absl::OkStatus();
}

bool IsVisionLayout(pb::Layout layout) {
  return layout == pb::LAYOUT_CHATGLM_VISION || layout == pb::LAYOUT_GLM4V;
}

// glm-4v-9b: EVA2-CLIP ViT (LayerNorm with bias, biased linears, GELU MLP),
// a 2x2 stride-2 conv, then a SwiGLU adapter as wide as the language FFN.
void AddEva2Clip(const pb::HParams& hp, std::vector<PlanTensor>* out) {
  const pb::VisionHParams& v = hp.vision();
  const int64_t h = v.hidden_size(), f = v.ffn_hidden_size(), o = v.out_hidden_size();
  const int64_t p = v.patch_size(), c = v.in_channels(), m = v.spatial_merge_size();
  const int64_t side = v.image_size() / p;
  const std::string pre = "transformer.vision.";
  const pb::Role r = pb::ROLE_VISION;
  Add(out, pre + "patch_embedding.proj.weight", r, -1, {h, c, p, p});
  Add(out, pre + "patch_embedding.proj.bias", r, -1, {h});
  Add(out, pre + "patch_embedding.cls_embedding", r, -1, {1, h});
  Add(out, pre + "patch_embedding.position_embedding.weight", r, -1, {side * side + 1, h});
  for (int i = 0; i < v.n_layers(); ++i) {
    const std::string l = absl::StrCat(pre, "transformer.layers.", i, ".");
    Add(out, l + "input_layernorm.weight", r, i, {h});
    Add(out, l + "input_layernorm.bias", r, i, {h});
    Add(out, l + "attention.query_key_value.weight", r, i, {3 * h, h});
    Add(out, l + "attention.query_key_value.bias", r, i, {3 * h});
    Add(out, l + "attention.dense.weight", r, i, {h, h});
    Add(out, l + "attention.dense.bias", r, i, {h});
    Add(out, l + "mlp.fc1.weight", r, i, {f, h});
    Add(out, l + "mlp.fc1.bias", r, i, {f});
    Add(out, l + "mlp.fc2.weight", r, i, {h, f});
    Add(out, l + "mlp.fc2.bias", r, i, {h});
    Add(out, l + "post_attention_layernorm.weight", r, i, {h});
    Add(out, l + "post_attention_layernorm.bias", r, i, {h});
  }
  Add(out, pre + "conv.weight", r, -1, {o, h, m, m});
  Add(out, pre + "conv.bias", r, -1, {o});
  const int64_t adapter_ffn = hp.ffn_hidden_size();  // GLU adapter as wide as the LM FFN
  Add(out, pre + "linear_proj.linear_proj.weight", r, -1, {o, o});
  Add(out, pre + "linear_proj.norm1.weight", r, -1, {o});
  Add(out, pre + "linear_proj.norm1.bias", r, -1, {o});
  Add(out, pre + "linear_proj.gate_proj.weight", r, -1, {adapter_ffn, o});
  Add(out, pre + "linear_proj.dense_h_to_4h.weight", r, -1, {adapter_ffn, o});
  Add(out, pre + "linear_proj.dense_4h_to_h.weight", r, -1, {o, adapter_ffn});
  Add(out, pre + "boi", r, -1, {1, 1, o});
  Add(out, pre + "eoi", r, -1, {1, 1, o});
}

// GLM-4.1V: AIMv2-style ViT (RMSNorm, no biases, SwiGLU MLP whose width is
// out_hidden_size as in transformers' Glm4VisionMlp), Conv3d patch embedding
// over temporal_patch_size frames, 2x2 downsample conv, then a SwiGLU merger
// of width vision.ffn_hidden_size (vision_config.intermediate_size).
void AddGlm4vVision(const pb::HParams& hp, std::vector<PlanTensor>* out) {
  const pb::VisionHParams& v = hp.vision();
  const int64_t h = v.hidden_size(), f = v.ffn_hidden_size(), o = v.out_hidden_size();
  const int64_t p = v.patch_size(), c = v.in_channels(), m = v.spatial_merge_size();
  const int64_t t = v.temporal_patch_size() > 0 ? v.temporal_patch_size() : 1;
  const int64_t side = v.image_size() / p;
  const std::string pre = "model.visual.";
  const pb::Role r = pb::ROLE_VISION;
  Add(out, pre + "patch_embed.proj.weight", r, -1, {h, c, t, p, p});
  Add(out, pre + "patch_embed.proj.bias", r, -1, {h});
  Add(out, pre + "post_conv_layernorm.weight", r, -1, {h});
  Add(out, pre + "embeddings.position_embedding.weight", r, -1, {side * side, h});
  for (int i = 0; i < v.n_layers(); ++i) {
    const std::string l = absl::StrCat(pre, "blocks.", i, ".");
    Add(out, l + "norm1.weight", r, i, {h});
    Add(out, l + "attn.qkv.weight", r, i, {3 * h, h});
    Add(out, l + "attn.proj.weight", r, i, {h, h});
    Add(out, l + "norm2.weight", r, i, {h});
    Add(out, l + "mlp.gate_proj.weight", r, i, {o, h});
    Add(out, l + "mlp.up_proj.weight", r, i, {o, h});
    Add(out, l + "mlp.down_proj.weight", r, i, {h, o});
  }
  Add(out, pre + "post_layernorm.weight", r, -1, {h});
  Add(out, pre + "downsample.weight", r, -1, {o, h, m, m});
  Add(out, pre + "downsample.bias", r, -1, {o});
  Add(out, pre + "merger.proj.weight", r, -1, {o, o});
  Add(out, pre + "merger.post_projection_norm.weight", r, -1, {o});
  Add(out, pre + "merger.post_projection_norm.bias", r, -1, {o});
  Add(out, pre + "merger.gate_proj.weight", r, -1, {f, o});
  Add(out, pre + "merger.up_proj.weight", r, -1, {f, o});
  Add(out, pre + "merger.down_proj.weight", r, -1, {o, f});
}

}  // namespace

absl::Status ValidateHParams(const pb::HParams& hp) {
  const char* w = "hparams";
  if (hp.layout() == pb::LAYOUT_UNSPECIFIED || !pb::Layout_IsValid(hp.layout()))
    return absl::InvalidArgumentError(
        absl::StrCat(w, ": field 'layout' is ", static_cast<int>(hp.layout()), " (unsupported)"));
  GLMQ_RETURN_IF_ERROR(Positive(hp.n_layers(), "n_layers", w));
  GLMQ_RETURN_IF_ERROR(Positive(hp.hidden_size(), "hidden_size", w));
  GLMQ_RETURN_IF_ERROR(Positive(hp.n_heads(), "n_heads", w));
  GLMQ_RETURN_IF_ERROR(Positive(hp.n_kv_heads(), "n_kv_heads", w));
  GLMQ_RETURN_IF_ERROR(Positive(hp.head_dim(), "head_dim", w));
  GLMQ_RETURN_IF_ERROR(Positive(hp.ffn_hidden_size(), "ffn_hidden_size", w));
  GLMQ_RETURN_IF_ERROR(Positive(hp.padded_vocab_size(), "padded_vocab_size", w));
  GLMQ_RETURN_IF_ERROR(Positive(hp.max_context(), "max_context", w));
  if (hp.n_heads() % hp.n_kv_heads() != 0)
    return absl::InvalidArgumentError(absl::StrCat(w, ": field 'n_kv_heads' (", hp.n_kv_heads(),
                                                   ") does not divide n_heads (", hp.n_heads(),
                                                   ")"));
  if (hp.norms_per_layer() != 2 && hp.norms_per_layer() != 4)
    return absl::InvalidArgumentError(absl::StrCat(
        w, ": field 'norms_per_layer' is ", hp.norms_per_layer(), " (must be 2 or 4)"));
  if (IsVisionLayout(hp.layout())) {
    if (!hp.has_vision())
      return absl::InvalidArgumentError(
          absl::StrCat(w, ": field 'vision' is missing (layout ", static_cast<int>(hp.layout()),
                       " is a vision model)"));
    GLMQ_RETURN_IF_ERROR(ValidateVision(hp));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<PlanTensor>> LanguageModelTensors(const pb::HParams& hp) {
  GLMQ_RETURN_IF_ERROR(ValidateHParams(hp));
  const int64_t h = hp.hidden_size(), f = hp.ffn_hidden_size(), v = hp.padded_vocab_size();
  const int64_t q = hp.n_heads() * hp.head_dim();
  const int64_t qkv = (hp.n_heads() + 2 * hp.n_kv_heads()) * hp.head_dim();
  std::vector<PlanTensor> out;
  Add(&out, "token_embd.weight", pb::ROLE_TOKEN_EMBD, -1, {v, h});
  for (int i = 0; i < hp.n_layers(); ++i) {
    const std::string b = absl::StrCat("blk.", i, ".");
    Add(&out, b + "attn_norm.weight", pb::ROLE_ATTN_NORM, i, {h});
    Add(&out, b + "attn_qkv.weight", pb::ROLE_ATTN_QKV, i, {qkv, h});
    if (hp.qkv_bias()) Add(&out, b + "attn_qkv.bias", pb::ROLE_ATTN_QKV_BIAS, i, {qkv});
    Add(&out, b + "attn_output.weight", pb::ROLE_ATTN_OUTPUT, i, {h, q});
    if (hp.attn_output_bias()) Add(&out, b + "attn_output.bias", pb::ROLE_OTHER, i, {h});
    if (hp.norms_per_layer() == 4)
      Add(&out, b + "post_attn_norm.weight", pb::ROLE_POST_ATTN_NORM, i, {h});
    Add(&out, b + "ffn_norm.weight", pb::ROLE_FFN_NORM, i, {h});
    Add(&out, b + "ffn_gate_up.weight", pb::ROLE_FFN_GATE_UP, i, {2 * f, h});
    if (hp.mlp_bias()) Add(&out, b + "ffn_gate_up.bias", pb::ROLE_OTHER, i, {2 * f});
    Add(&out, b + "ffn_down.weight", pb::ROLE_FFN_DOWN, i, {h, f});
    if (hp.mlp_bias()) Add(&out, b + "ffn_down.bias", pb::ROLE_OTHER, i, {h});
    if (hp.norms_per_layer() == 4)
      Add(&out, b + "post_ffn_norm.weight", pb::ROLE_POST_FFN_NORM, i, {h});
  }
  Add(&out, "output_norm.weight", pb::ROLE_OUTPUT_NORM, -1, {h});
  if (!hp.tied_embeddings()) Add(&out, "output.weight", pb::ROLE_OUTPUT, -1, {v, h});
  return out;
}

absl::StatusOr<std::vector<PlanTensor>> VisionTensors(const pb::HParams& hp) {
  GLMQ_RETURN_IF_ERROR(ValidateHParams(hp));
  std::vector<PlanTensor> out;
  if (hp.layout() == pb::LAYOUT_CHATGLM_VISION) AddEva2Clip(hp, &out);
  if (hp.layout() == pb::LAYOUT_GLM4V) AddGlm4vVision(hp, &out);
  return out;
}

std::vector<PlanTensor> SourceOnlyTensors(const pb::HParams& hp) {
  std::vector<PlanTensor> out;
  if (hp.layout() == pb::LAYOUT_CHATGLM || hp.layout() == pb::LAYOUT_CHATGLM_VISION) {
    const int64_t rope_dims = hp.rope_dims() > 0 ? hp.rope_dims() : hp.head_dim() / 2;
    Add(&out, "transformer.rotary_pos_emb.inv_freq", pb::ROLE_OTHER, -1, {rope_dims / 2});
  }
  return out;
}

absl::StatusOr<std::vector<PlanTensor>> RuntimeTensors(const pb::HParams& hp) {
  GLMQ_ASSIGN_OR_RETURN(std::vector<PlanTensor> out, LanguageModelTensors(hp));
  GLMQ_ASSIGN_OR_RETURN(std::vector<PlanTensor> vision, VisionTensors(hp));
  for (PlanTensor& t : vision) out.push_back(std::move(t));
  return out;
}

}  // namespace glmq::plan
