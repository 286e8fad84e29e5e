#include "schema/hparams.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/status.h"

namespace glmq {
namespace {

absl::Status Bad(absl::string_view where, absl::string_view field, absl::string_view value,
                 absl::string_view rule) {
  return absl::InvalidArgumentError(
      absl::StrCat(where, ": field '", field, "' is ", value, " (", rule, ")"));
}

absl::Status InRange(int64_t value, int64_t max, absl::string_view field, absl::string_view where) {
  if (value <= 0) return Bad(where, field, absl::StrCat(value), "must be positive");
  if (value > max)
    return Bad(where, field, absl::StrCat(value), absl::StrCat("must be at most ", max));
  return absl::OkStatus();
}

absl::Status PositiveFinite(double value, absl::string_view field, absl::string_view where) {
  if (std::isfinite(value) && value > 0) return absl::OkStatus();
  return Bad(where, field, absl::StrCat(value), "must be positive and finite");
}

// A token id of the model's vocabulary.
absl::Status TokenId(int64_t id, const pb::HParams& hp, absl::string_view field,
                     absl::string_view where) {
  if (id >= 0 && id < hp.padded_vocab_size()) return absl::OkStatus();
  return Bad(where, field, absl::StrCat(id),
             absl::StrCat("must be a token id below padded_vocab_size ", hp.padded_vocab_size()));
}

// The constants the towers' math and the image splice use.
absl::Status ValidateVisionMath(const pb::HParams& hp) {
  const char* w = "hparams.vision";
  const pb::VisionHParams& v = hp.vision();
  const bool v41 = hp.layout() == pb::LAYOUT_GLM4V;
  const int64_t grid = (v.image_size() / v.patch_size()) * (v.image_size() / v.patch_size());
  const int64_t positions = v41 ? grid : grid + 1;
  if (v.n_positions() != positions)
    return Bad(w, "n_positions", absl::StrCat(v.n_positions()),
               absl::StrCat("must be ", positions, " for image_size ", v.image_size()));
  GLMQ_RETURN_IF_ERROR(InRange(v.mlp_size(), kMaxWidth, "mlp_size", w));
  GLMQ_RETURN_IF_ERROR(InRange(v.merger_size(), kMaxWidth, "merger_size", w));
  GLMQ_RETURN_IF_ERROR(PositiveFinite(v.norm_eps(), "norm_eps", w));
  GLMQ_RETURN_IF_ERROR(PositiveFinite(v.proj_norm_eps(), "proj_norm_eps", w));
  GLMQ_RETURN_IF_ERROR(PositiveFinite(v.scaling_factor(), "scaling_factor", w));
  if (v41) GLMQ_RETURN_IF_ERROR(PositiveFinite(v.rope_theta(), "rope_theta", w));
  if (v41 && (v.hidden_size() / v.n_heads()) % 4 != 0)
    return Bad(w, "n_heads", absl::StrCat(v.n_heads()),
               "head_dim must be a multiple of 4 (2-D RoPE)");
  const std::string want_act = v41 ? "silu" : "gelu";
  if (v.hidden_act() != want_act)
    return Bad(w, "hidden_act", absl::StrCat("'", v.hidden_act(), "'"),
               absl::StrCat("this tower uses ", want_act));
  GLMQ_RETURN_IF_ERROR(TokenId(v.image_start_token_id(), hp, "image_start_token_id", w));
  GLMQ_RETURN_IF_ERROR(TokenId(v.image_end_token_id(), hp, "image_end_token_id", w));
  if (v41) GLMQ_RETURN_IF_ERROR(TokenId(v.image_token_id(), hp, "image_token_id", w));
  const pb::ImagePreprocess& p = v.preprocess();
  const char* pw = "hparams.vision.preprocess";
  if (!v41 && p.resize_size() != v.image_size())
    return Bad(pw, "resize_size", absl::StrCat(p.resize_size()),
               absl::StrCat("must equal image_size ", v.image_size()));
  if (v41) {
    GLMQ_RETURN_IF_ERROR(InRange(p.min_pixels(), kMaxWidth * kMaxWidth, "min_pixels", pw));
    GLMQ_RETURN_IF_ERROR(InRange(p.max_pixels(), kMaxWidth * kMaxWidth, "max_pixels", pw));
    if (p.min_pixels() > p.max_pixels())
      return Bad(pw, "min_pixels", absl::StrCat(p.min_pixels()), "must not exceed max_pixels");
  }
  GLMQ_RETURN_IF_ERROR(PositiveFinite(p.rescale_factor(), "rescale_factor", pw));
  if (p.image_mean_size() != v.in_channels() || p.image_std_size() != v.in_channels())
    return Bad(pw, "image_mean", absl::StrCat(p.image_mean_size(), " values"),
               "mean and std need one value per input channel");
  for (float s : p.image_std()) GLMQ_RETURN_IF_ERROR(PositiveFinite(s, "image_std", pw));
  return absl::OkStatus();
}

absl::Status ValidateVision(const pb::HParams& hp) {
  const char* w = "hparams.vision";
  if (!hp.has_vision()) {
    return absl::InvalidArgumentError(absl::StrCat("hparams: field 'vision' is missing (layout ",
                                                   LayoutName(hp.layout()), " is a vision model)"));
  }
  const pb::VisionHParams& v = hp.vision();
  GLMQ_RETURN_IF_ERROR(InRange(v.n_layers(), kMaxLayers, "n_layers", w));
  GLMQ_RETURN_IF_ERROR(InRange(v.hidden_size(), kMaxWidth, "hidden_size", w));
  GLMQ_RETURN_IF_ERROR(InRange(v.n_heads(), kMaxHeads, "n_heads", w));
  GLMQ_RETURN_IF_ERROR(InRange(v.ffn_hidden_size(), kMaxWidth, "ffn_hidden_size", w));
  GLMQ_RETURN_IF_ERROR(InRange(v.patch_size(), kMaxHeads, "patch_size", w));
  GLMQ_RETURN_IF_ERROR(InRange(v.image_size(), kMaxWidth, "image_size", w));
  GLMQ_RETURN_IF_ERROR(InRange(v.in_channels(), kMaxHeads, "in_channels", w));
  GLMQ_RETURN_IF_ERROR(InRange(v.out_hidden_size(), kMaxWidth, "out_hidden_size", w));
  GLMQ_RETURN_IF_ERROR(InRange(v.spatial_merge_size(), kMaxHeads, "spatial_merge_size", w));
  GLMQ_RETURN_IF_ERROR(InRange(v.image_tokens(), kMaxWidth, "image_tokens", w));
  if (v.temporal_patch_size() < 0 || v.temporal_patch_size() > kMaxHeads)
    return Bad(w, "temporal_patch_size", absl::StrCat(v.temporal_patch_size()),
               absl::StrCat("must be within 0..", kMaxHeads));
  if (v.image_size() % v.patch_size() != 0)
    return Bad(w, "image_size", absl::StrCat(v.image_size()),
               absl::StrCat("not a multiple of patch_size ", v.patch_size()));
  if (v.hidden_size() % v.n_heads() != 0)
    return Bad(w, "n_heads", absl::StrCat(v.n_heads()),
               absl::StrCat("does not divide hidden_size ", v.hidden_size()));
  return ValidateVisionMath(hp);
}

absl::Status ValidateRope(const pb::HParams& hp, absl::string_view w) {
  if (hp.rope_dims() < 0 || hp.rope_dims() > hp.head_dim() || hp.rope_dims() % 2 != 0)
    return Bad(w, "rope_dims", absl::StrCat(hp.rope_dims()),
               absl::StrCat("must be even and at most head_dim ", hp.head_dim()));
  if (hp.rope_dims() == 0) return absl::OkStatus();
  if (!hp.rope_interleaved())
    return Bad(w, "rope_interleaved", "false",
               "every GLM-4 rotates interleaved pairs (x[2i], x[2i+1])");
  return PositiveFinite(hp.rope_base(), "rope_base", w);
}

}  // namespace

absl::Status ValidateHParams(const pb::HParams& hp) {
  const char* w = "hparams";
  if (hp.layout() == pb::LAYOUT_UNSPECIFIED || !pb::Layout_IsValid(hp.layout()))
    return Bad(w, "layout", absl::StrCat(static_cast<int>(hp.layout())), "unsupported");
  GLMQ_RETURN_IF_ERROR(InRange(hp.n_layers(), kMaxLayers, "n_layers", w));
  GLMQ_RETURN_IF_ERROR(InRange(hp.hidden_size(), kMaxWidth, "hidden_size", w));
  GLMQ_RETURN_IF_ERROR(InRange(hp.n_heads(), kMaxHeads, "n_heads", w));
  GLMQ_RETURN_IF_ERROR(InRange(hp.n_kv_heads(), kMaxHeads, "n_kv_heads", w));
  GLMQ_RETURN_IF_ERROR(InRange(hp.head_dim(), kMaxHeads, "head_dim", w));
  GLMQ_RETURN_IF_ERROR(InRange(hp.ffn_hidden_size(), kMaxWidth, "ffn_hidden_size", w));
  GLMQ_RETURN_IF_ERROR(InRange(hp.padded_vocab_size(), kMaxWidth, "padded_vocab_size", w));
  GLMQ_RETURN_IF_ERROR(InRange(hp.max_context(), kMaxContext, "max_context", w));
  if (hp.vocab_size() < 0 || hp.vocab_size() > hp.padded_vocab_size())
    return Bad(w, "vocab_size", absl::StrCat(hp.vocab_size()),
               absl::StrCat("must be within 0..padded_vocab_size ", hp.padded_vocab_size()));
  if (hp.n_heads() % hp.n_kv_heads() != 0)
    return Bad(w, "n_kv_heads", absl::StrCat(hp.n_kv_heads()),
               absl::StrCat("does not divide n_heads ", hp.n_heads()));
  GLMQ_RETURN_IF_ERROR(ValidateRope(hp, w));
  const int norms = hp.layout() == pb::LAYOUT_GLM4 || hp.layout() == pb::LAYOUT_GLM4V ? 4 : 2;
  if (hp.norms_per_layer() != norms)
    return Bad(w, "norms_per_layer", absl::StrCat(hp.norms_per_layer()),
               absl::StrCat("layout ", LayoutName(hp.layout()), " has ", norms));
  GLMQ_RETURN_IF_ERROR(PositiveFinite(hp.norm_eps(), "norm_eps", w));
  if (IsVisionLayout(hp.layout())) GLMQ_RETURN_IF_ERROR(ValidateVision(hp));
  return absl::OkStatus();
}

absl::string_view LayoutName(pb::Layout layout) {
  switch (layout) {
    case pb::LAYOUT_CHATGLM:
      return "chatglm";
    case pb::LAYOUT_GLM:
      return "glm";
    case pb::LAYOUT_GLM4:
      return "glm4";
    case pb::LAYOUT_CHATGLM_VISION:
      return "chatglm-vision";
    case pb::LAYOUT_GLM4V:
      return "glm4v";
    default:
      return "unspecified";
  }
}

bool IsVisionLayout(pb::Layout layout) {
  return layout == pb::LAYOUT_CHATGLM_VISION || layout == pb::LAYOUT_GLM4V;
}

}  // namespace glmq
