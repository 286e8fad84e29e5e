#include "runtime/vision/vision_config.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "schema/hparams.h"

namespace glmq {

absl::StatusOr<VisionConfig> VisionConfigFromHParams(const pb::HParams& hp) {
  if (!IsVisionLayout(hp.layout())) {
    return absl::InvalidArgumentError(
        absl::StrCat("hparams: layout ", pb::Layout_Name(hp.layout()),
                     " has no vision tower (want LAYOUT_CHATGLM_VISION or LAYOUT_GLM4V)"));
  }
  GLMQ_RETURN_IF_ERROR(ValidateHParams(hp));
  const pb::VisionHParams& v = hp.vision();
  VisionConfig c;
  c.layout = hp.layout();
  c.n_layers = v.n_layers();
  c.hidden_size = v.hidden_size();
  c.n_heads = v.n_heads();
  c.mlp_size = v.mlp_size();
  c.patch_size = v.patch_size();
  c.in_channels = v.in_channels();
  c.temporal_patch_size = v.temporal_patch_size() > 0 ? v.temporal_patch_size() : 1;
  c.merge_size = v.spatial_merge_size();
  c.n_positions = v.n_positions();
  c.out_hidden_size = v.out_hidden_size();
  c.merger_size = v.merger_size();
  c.norm_eps = v.norm_eps();
  c.merger_norm_eps = v.proj_norm_eps();
  c.scaling_factor = v.scaling_factor();
  c.rope_theta = hp.layout() == pb::LAYOUT_GLM4V ? v.rope_theta() : 10000;
  c.qkv_bias = v.attention_bias();
  GLMQ_RETURN_IF_ERROR(CheckVisionConfig(c));
  return c;
}

absl::Status CheckVisionConfig(const VisionConfig& c) {
  auto bad = [](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("vision config: ", what));
  };
  if (c.layout != pb::LAYOUT_CHATGLM_VISION && c.layout != pb::LAYOUT_GLM4V) {
    return bad(absl::StrCat("layout ", pb::Layout_Name(c.layout), " is not a vision layout"));
  }
  const std::vector<std::pair<const char*, int64_t>> sizes = {
      {"n_layers", c.n_layers},
      {"hidden_size", c.hidden_size},
      {"n_heads", c.n_heads},
      {"mlp_size", c.mlp_size},
      {"patch_size", c.patch_size},
      {"in_channels", c.in_channels},
      {"temporal_patch_size", c.temporal_patch_size},
      {"merge_size", c.merge_size},
      {"n_positions", c.n_positions},
      {"out_hidden_size", c.out_hidden_size},
      {"merger_size", c.merger_size}};
  for (const auto& [name, value] : sizes) {
    if (value <= 0) return bad(absl::StrCat(name, " is ", value, ", must be positive"));
  }
  if (c.hidden_size % c.n_heads != 0) {
    return bad(
        absl::StrCat("hidden_size ", c.hidden_size, " is not a multiple of n_heads ", c.n_heads));
  }
  const int64_t rope_multiple = c.layout == pb::LAYOUT_GLM4V ? 4 : 1;
  if (c.head_dim() % rope_multiple != 0) {
    return bad(absl::StrCat("head_dim ", c.head_dim(), " must be a multiple of 4 (2-D RoPE)"));
  }
  if (!(c.norm_eps > 0) || !(c.merger_norm_eps > 0)) {
    return bad("norm_eps and merger_norm_eps must be positive");
  }
  if (c.scaling_factor == 0) return bad("scaling_factor must not be 0");
  if (c.layout == pb::LAYOUT_GLM4V && !(c.rope_theta > 0))
    return bad("rope_theta must be positive");
  if (c.layout == pb::LAYOUT_CHATGLM_VISION && c.temporal_patch_size != 1) {
    return bad("temporal_patch_size must be 1 for EVA2-CLIP (Conv2d patches)");
  }
  return absl::OkStatus();
}

}  // namespace glmq
