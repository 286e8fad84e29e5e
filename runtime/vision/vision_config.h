// Everything the two GLM-4 vision towers need to know about their shapes and
// constants, in one plain struct, filled from pb::HParams.vision()
// (schema/glmq.proto, filled by convert/hf_config.cc, validated by
// schema/hparams.cc).
//
// Towers: glm-4v-9b (EVA2-CLIP, LAYOUT_CHATGLM_VISION) and GLM-4.1V
// (LAYOUT_GLM4V). Semantics: ../shared/fixtures/README.md, "Vision models".
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "schema/glmq.pb.h"

namespace glmq {

struct VisionConfig {
  pb::Layout layout = pb::LAYOUT_UNSPECIFIED;  // CHATGLM_VISION or GLM4V
  int64_t n_layers = 0;
  int64_t hidden_size = 0;  // ViT width
  int64_t n_heads = 0;      // head_dim = hidden_size / n_heads
  // ViT MLP width: EVA2-CLIP intermediate_size (fc1); GLM-4.1V out_hidden_size
  // (its blocks' gate/up width is the text width, not intermediate_size).
  int64_t mlp_size = 0;
  int64_t patch_size = 0;
  int64_t in_channels = 3;
  int64_t temporal_patch_size = 1;  // GLM-4.1V: 2 (Conv3d over 2 frames)
  int64_t merge_size = 2;           // 2x2 patches -> 1 token (both towers)
  // Rows of the learned position table. EVA2-CLIP: num_positions (patches +
  // CLS: (image_size / patch_size)^2 + 1); GLM-4.1V:
  // (image_size / patch_size)^2, a square table resampled to each grid.
  int64_t n_positions = 0;
  int64_t out_hidden_size = 0;  // text hidden size: width of the tokens handed over
  // Width of the projector's gated MLP: EVA2-CLIP GLU = the text ffn_hidden_size
  // (HParams.ffn_hidden_size); GLM-4.1V merger = vision intermediate_size.
  int64_t merger_size = 0;
  double norm_eps = 0;            // ViT norms: EVA2-CLIP LayerNorm, GLM-4.1V RMSNorm
  double merger_norm_eps = 1e-5;  // projector LayerNorm: torch's default
  // EVA2-CLIP divides cat(boi, tokens, eoi) by it (config scaling_factor); 1 for GLM-4.1V.
  double scaling_factor = 1;
  double rope_theta = 10000;  // GLM-4.1V 2-D RoPE base (hard-coded upstream)
  // Bias on the qkv projection: EVA2-CLIP always; GLM-4.1V vision_config
  // attention_bias (false in the released config).
  bool qkv_bias = false;

  int64_t head_dim() const { return n_heads > 0 ? hidden_size / n_heads : 0; }
  // Floats per patch row fed to the patch embedding: C * T * p * p.
  int64_t patch_values() const {
    return in_channels * temporal_patch_size * patch_size * patch_size;
  }
};

// The config of hp's vision tower. Error if hp is not a vision layout, fails
// ValidateHParams or the result fails CheckVisionConfig.
absl::StatusOr<VisionConfig> VisionConfigFromHParams(const pb::HParams& hp);

// Positive sizes, hidden_size divisible by n_heads, an even head_dim
// (GLM-4.1V: divisible by 4 for the 2-D RoPE), eps > 0, scaling_factor != 0.
// Errors name the field.
absl::Status CheckVisionConfig(const VisionConfig& c);

}  // namespace glmq
