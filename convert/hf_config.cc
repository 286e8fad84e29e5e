// HF config.json -> HParams. One row per model_type says which config keys
// hold each hyperparameter; the code below only walks the row.
#include "convert/hf_config.h"

#include <cmath>
#include <vector>

#include "absl/strings/str_join.h"
#include "core/status.h"

namespace glmq {
namespace {

// Which config.json keys hold each value for one model_type. Where a list
// has several keys the first present one wins.
struct ConfigKeys {
  absl::string_view model_type;
  pb::Layout layout;                  // text layout (vision variants below)
  std::vector<absl::string_view> architectures;
  std::vector<absl::string_view> n_layers;
  std::vector<absl::string_view> n_kv_heads;  // empty: see multi_query_group_num
  std::vector<absl::string_view> head_dim;
  std::vector<absl::string_view> ffn_hidden_size;
  std::vector<absl::string_view> norm_eps;
  std::vector<absl::string_view> padded_vocab;
  std::vector<absl::string_view> max_context;
  absl::string_view qkv_bias;
  absl::string_view linear_bias;      // "" = never (o_proj / mlp have no bias)
  bool rope_from_ratio;               // 10000 * rope_ratio, rope_dims = head_dim / 2
  int norms_per_layer;
};

const std::vector<ConfigKeys>& KeyTable() {
  static const std::vector<ConfigKeys> table = {
      {"chatglm", pb::LAYOUT_CHATGLM,
       {"ChatGLMModel", "ChatGLMForConditionalGeneration"},
       {"num_layers", "num_hidden_layers"}, {}, {"kv_channels"}, {"ffn_hidden_size"},
       {"layernorm_epsilon"}, {"padded_vocab_size", "vocab_size"}, {"seq_length"},
       "add_qkv_bias", "add_bias_linear", true, 2},
      {"glm", pb::LAYOUT_GLM, {"GlmForCausalLM"},
       {"num_hidden_layers"}, {"num_key_value_heads"}, {"head_dim"}, {"intermediate_size"},
       {"rms_norm_eps"}, {"vocab_size"}, {"max_position_embeddings"},
       "attention_bias", "", false, 2},
      {"glm4", pb::LAYOUT_GLM4, {"Glm4ForCausalLM"},
       {"num_hidden_layers"}, {"num_key_value_heads"}, {"head_dim"}, {"intermediate_size"},
       {"rms_norm_eps"}, {"vocab_size"}, {"max_position_embeddings"},
       "attention_bias", "", false, 4},
      {"glm4v", pb::LAYOUT_GLM4V, {"Glm4vForConditionalGeneration"},
       {"num_hidden_layers"}, {"num_key_value_heads"}, {"head_dim"}, {"intermediate_size"},
       {"rms_norm_eps"}, {"vocab_size"}, {"max_position_embeddings"},
       "attention_bias", "", false, 4},
  };
  return table;
}

const Json* FirstPresent(const Json& obj, const std::vector<absl::string_view>& keys,
                         std::string* found) {
  for (absl::string_view k : keys) {
    auto it = obj.find(std::string(k));
    if (it != obj.end() && !it->is_null()) {
      *found = std::string(k);
      return &*it;
    }
  }
  return nullptr;
}

// Integer from the first present key; `fallback` (if >= 0) when none is.
absl::StatusOr<int64_t> IntFrom(const Json& obj, const std::vector<absl::string_view>& keys,
                                int64_t fallback, absl::string_view where) {
  std::string key;
  if (FirstPresent(obj, keys, &key) == nullptr) {
    if (fallback >= 0) return fallback;
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": field '", absl::StrJoin(keys, "' or '"), "' is missing"));
  }
  GLMQ_ASSIGN_OR_RETURN(int64_t v, GetInt(obj, key, where));
  if (v <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": field '", key, "' must be positive, got ", v));
  }
  return v;
}

absl::StatusOr<double> NumberFrom(const Json& obj, const std::vector<absl::string_view>& keys,
                                  absl::string_view where) {
  std::string key;
  if (FirstPresent(obj, keys, &key) == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": field '", absl::StrJoin(keys, "' or '"), "' is missing"));
  }
  GLMQ_ASSIGN_OR_RETURN(double v, GetNumber(obj, key, where));
  if (!(v > 0) || !std::isfinite(v)) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": field '", key, "' must be a positive number"));
  }
  return v;
}

absl::Status CheckChatglmFlags(const Json& config, absl::string_view where) {
  GLMQ_ASSIGN_OR_RETURN(bool rmsnorm, GetOptionalBool(config, "rmsnorm", true, where));
  GLMQ_ASSIGN_OR_RETURN(bool post_ln, GetOptionalBool(config, "post_layer_norm", true, where));
  GLMQ_ASSIGN_OR_RETURN(bool residual_post_ln,
                        GetOptionalBool(config, "apply_residual_connection_post_layernorm",
                                        false, where));
  if (!rmsnorm || !post_ln || residual_post_ln) {
    return absl::UnimplementedError(absl::StrCat(
        where, ": fields 'rmsnorm'/'post_layer_norm'/'apply_residual_connection_post_layernorm'"
               " describe a ChatGLM variant other than GLM-4 (need true/true/false)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> OptionalString(const Json& obj, absl::string_view key,
                                           absl::string_view fallback, absl::string_view where) {
  if (!obj.contains(std::string(key))) return std::string(fallback);
  return GetString(obj, key, where);
}

// OpenAI CLIP's mean/std (both processors; transformers OPENAI_CLIP_MEAN/STD).
void SetClipStatistics(pb::ImagePreprocess* pre) {
  pre->set_rescale_factor(1.0 / 255);
  pre->clear_image_mean();
  pre->clear_image_std();
  for (float m : {0.48145466f, 0.4578275f, 0.40821073f}) pre->add_image_mean(m);
  for (float s : {0.26862954f, 0.26130258f, 0.27577711f}) pre->add_image_std(s);
}

// glm-4v-9b (EVA2-CLIP): 2x2 conv downsampling after the ViT.
absl::Status FillChatglmVision(const Json& v, int64_t lm_hidden, int64_t lm_ffn,
                               absl::string_view where, pb::VisionHParams* out) {
  GLMQ_ASSIGN_OR_RETURN(int64_t layers, IntFrom(v, {"num_hidden_layers", "num_layers"}, -1, where));
  GLMQ_ASSIGN_OR_RETURN(int64_t hidden, IntFrom(v, {"hidden_size"}, -1, where));
  GLMQ_ASSIGN_OR_RETURN(int64_t heads, IntFrom(v, {"num_heads"}, -1, where));
  GLMQ_ASSIGN_OR_RETURN(int64_t ffn, IntFrom(v, {"intermediate_size"}, -1, where));
  GLMQ_ASSIGN_OR_RETURN(int64_t patch, IntFrom(v, {"patch_size"}, -1, where));
  GLMQ_ASSIGN_OR_RETURN(int64_t image, IntFrom(v, {"image_size"}, -1, where));
  GLMQ_ASSIGN_OR_RETURN(int64_t channels, IntFrom(v, {"in_channels"}, 3, where));
  GLMQ_ASSIGN_OR_RETURN(double eps, GetOptionalNumber(v, "layer_norm_eps", 1e-6, where));
  out->set_n_layers(layers);
  out->set_hidden_size(hidden);
  out->set_n_heads(heads);
  out->set_ffn_hidden_size(ffn);
  out->set_patch_size(patch);
  out->set_image_size(image);
  out->set_in_channels(channels);
  out->set_out_hidden_size(lm_hidden);
  out->set_spatial_merge_size(2);
  const int64_t side = image / patch / 2;
  out->set_image_tokens(side * side);  // 1600 for 1120 px (plus boi/eoi tokens)
  out->set_temporal_patch_size(1);
  out->set_norm_eps(eps);
  const int64_t grid = patch > 0 ? image / patch : 0;
  GLMQ_ASSIGN_OR_RETURN(int64_t positions, IntFrom(v, {"num_positions"}, grid * grid + 1, where));
  GLMQ_ASSIGN_OR_RETURN(double scaling, GetOptionalNumber(v, "scaling_factor", 8, where));
  GLMQ_ASSIGN_OR_RETURN(std::string act, OptionalString(v, "hidden_act", "gelu", where));
  out->set_n_positions(positions);
  out->set_scaling_factor(scaling);
  out->set_proj_norm_eps(1e-5);  // nn.LayerNorm's default in the GLU projector
  out->set_attention_bias(true);
  out->set_mlp_size(ffn);
  out->set_merger_size(lm_ffn);
  out->set_hidden_act(act);
  pb::ImagePreprocess* pre = out->mutable_preprocess();
  pre->set_resize_size(image);
  SetClipStatistics(pre);
  return absl::OkStatus();
}

// GLM-4.1V (AIMv2 ViT, dynamic resolution); image_tokens is for image_size.
absl::Status FillGlm4vVision(const Json& v, absl::string_view where, pb::VisionHParams* out) {
  GLMQ_ASSIGN_OR_RETURN(int64_t layers, IntFrom(v, {"depth", "num_hidden_layers"}, -1, where));
  GLMQ_ASSIGN_OR_RETURN(int64_t hidden, IntFrom(v, {"hidden_size"}, -1, where));
  GLMQ_ASSIGN_OR_RETURN(int64_t heads, IntFrom(v, {"num_heads"}, -1, where));
  GLMQ_ASSIGN_OR_RETURN(int64_t ffn, IntFrom(v, {"intermediate_size"}, -1, where));
  GLMQ_ASSIGN_OR_RETURN(int64_t patch, IntFrom(v, {"patch_size"}, -1, where));
  GLMQ_ASSIGN_OR_RETURN(int64_t image, IntFrom(v, {"image_size"}, -1, where));
  GLMQ_ASSIGN_OR_RETURN(int64_t channels, IntFrom(v, {"in_channels"}, 3, where));
  GLMQ_ASSIGN_OR_RETURN(int64_t out_hidden, IntFrom(v, {"out_hidden_size"}, -1, where));
  GLMQ_ASSIGN_OR_RETURN(int64_t merge, IntFrom(v, {"spatial_merge_size"}, 2, where));
  GLMQ_ASSIGN_OR_RETURN(int64_t temporal, IntFrom(v, {"temporal_patch_size"}, 2, where));
  GLMQ_ASSIGN_OR_RETURN(double eps, GetOptionalNumber(v, "rms_norm_eps", 1e-5, where));
  out->set_n_layers(layers);
  out->set_hidden_size(hidden);
  out->set_n_heads(heads);
  out->set_ffn_hidden_size(ffn);
  out->set_patch_size(patch);
  out->set_image_size(image);
  out->set_in_channels(channels);
  out->set_out_hidden_size(out_hidden);
  out->set_spatial_merge_size(merge);
  const int64_t side = image / patch / merge;
  out->set_image_tokens(side * side);
  out->set_temporal_patch_size(temporal);
  out->set_norm_eps(eps);
  GLMQ_ASSIGN_OR_RETURN(bool bias, GetOptionalBool(v, "attention_bias", false, where));
  GLMQ_ASSIGN_OR_RETURN(std::string act, OptionalString(v, "hidden_act", "silu", where));
  out->set_n_positions((image / patch) * (image / patch));
  out->set_scaling_factor(1);
  out->set_proj_norm_eps(1e-5);  // nn.LayerNorm's default in the merger
  out->set_attention_bias(bias);
  out->set_rope_theta(10000);    // hard-coded in the ViT's rotary embedding
  out->set_mlp_size(out_hidden);  // the blocks' SwiGLU is as wide as the text model
  out->set_merger_size(ffn);
  out->set_hidden_act(act);
  pb::ImagePreprocess* pre = out->mutable_preprocess();
  pre->set_min_pixels(112 * 112);       // Glm4vImageProcessor's defaults, replaced by
  pre->set_max_pixels(28 * 28 * 15000);  // preprocessor_config.json (FillImagePreprocess)
  SetClipStatistics(pre);
  return absl::OkStatus();
}

// Splice token ids: glm-4v boi/eoi; GLM-4.1V image_start/end/image_token_id.
absl::Status FillImageTokens(const Json& config, pb::Layout layout, absl::string_view where,
                             pb::VisionHParams* out) {
  const bool v41 = layout == pb::LAYOUT_GLM4V;
  GLMQ_ASSIGN_OR_RETURN(
      int64_t start, IntFrom(config, {v41 ? "image_start_token_id" : "boi_token_id"}, -1, where));
  GLMQ_ASSIGN_OR_RETURN(
      int64_t end, IntFrom(config, {v41 ? "image_end_token_id" : "eoi_token_id"}, -1, where));
  out->set_image_start_token_id(start);
  out->set_image_end_token_id(end);
  if (v41) {
    GLMQ_ASSIGN_OR_RETURN(int64_t image, IntFrom(config, {"image_token_id"}, -1, where));
    out->set_image_token_id(image);
  }
  return absl::OkStatus();
}

absl::StatusOr<const ConfigKeys*> FindKeys(const Json& config, absl::string_view where,
                                           std::string* architecture) {
  GLMQ_ASSIGN_OR_RETURN(std::string model_type, GetString(config, "model_type", where));
  const ConfigKeys* keys = nullptr;
  std::vector<std::string> known;
  for (const ConfigKeys& k : KeyTable()) {
    known.push_back(std::string(k.model_type));
    if (k.model_type == model_type) keys = &k;
  }
  if (keys == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": field 'model_type' is '", model_type,
                     "', not a supported GLM-4 layout (", absl::StrJoin(known, ", "), ")"));
  }
  auto it = config.find("architectures");
  if (it == config.end() || !it->is_array() || it->empty() || !(*it)[0].is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": field 'architectures' must be a non-empty list of strings"));
  }
  *architecture = (*it)[0].get<std::string>();
  for (absl::string_view a : keys->architectures) {
    if (a == *architecture) return keys;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      where, ": field 'architectures' is '", *architecture, "', unknown for model_type '",
      model_type, "' (expected ", absl::StrJoin(keys->architectures, " or "), ")"));
}

absl::Status FillRope(const Json& text, const ConfigKeys& keys, absl::string_view where,
                      pb::HParams* hp) {
  if (keys.rope_from_ratio) {
    // modeling_chatglm: base = 10000 * rope_ratio; RotaryEmbedding(rotary_dim // 2).
    GLMQ_ASSIGN_OR_RETURN(double ratio, GetOptionalNumber(text, "rope_ratio", 1.0, where));
    if (!(ratio > 0) || !std::isfinite(ratio)) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": field 'rope_ratio' must be > 0"));
    }
    hp->set_rope_base(10000.0 * ratio);
    hp->set_rope_dims(hp->head_dim() / 2);
  } else {
    GLMQ_ASSIGN_OR_RETURN(double theta, GetOptionalNumber(text, "rope_theta", 10000.0, where));
    GLMQ_ASSIGN_OR_RETURN(double factor,
                          GetOptionalNumber(text, "partial_rotary_factor", 0.5, where));
    if (!(theta > 0) || !(factor > 0 && factor <= 1)) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": fields 'rope_theta' (> 0) / 'partial_rotary_factor' (0, 1] out of range"));
    }
    hp->set_rope_base(theta);
    hp->set_rope_dims(static_cast<int64_t>(std::llround(hp->head_dim() * factor)));
  }
  if (hp->rope_dims() % 2 != 0 || hp->rope_dims() <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": rotary dims ", hp->rope_dims(),
                                                   " must be even and positive"));
  }
  hp->set_rope_interleaved(true);  // all GLM-4 rotate pairs (x[2i], x[2i+1])
  const Json* scaling = nullptr;
  if (auto it = text.find("rope_scaling"); it != text.end() && it->is_object()) scaling = &*it;
  if (scaling != nullptr && scaling->contains("mrope_section")) {
    for (const Json& s : (*scaling)["mrope_section"]) {
      if (!s.is_number_integer()) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": field 'rope_scaling.mrope_section' must hold integers"));
      }
      hp->add_mrope_section(s.get<int64_t>());
    }
  }
  return absl::OkStatus();
}

absl::Status FillText(const Json& text, const ConfigKeys& keys, absl::string_view where,
                      pb::HParams* hp) {
  GLMQ_ASSIGN_OR_RETURN(int64_t layers, IntFrom(text, keys.n_layers, -1, where));
  GLMQ_ASSIGN_OR_RETURN(int64_t hidden, IntFrom(text, {"hidden_size"}, -1, where));
  GLMQ_ASSIGN_OR_RETURN(int64_t heads, IntFrom(text, {"num_attention_heads"}, -1, where));
  int64_t kv_heads = heads;
  if (keys.n_kv_heads.empty()) {  // chatglm
    GLMQ_ASSIGN_OR_RETURN(bool mqa, GetOptionalBool(text, "multi_query_attention", false, where));
    if (mqa) {
      GLMQ_ASSIGN_OR_RETURN(kv_heads, IntFrom(text, {"multi_query_group_num"}, -1, where));
    }
  } else {
    GLMQ_ASSIGN_OR_RETURN(kv_heads, IntFrom(text, keys.n_kv_heads, heads, where));
  }
  if (heads % kv_heads != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": num_attention_heads ", heads, " is not a multiple of kv heads ", kv_heads));
  }
  GLMQ_ASSIGN_OR_RETURN(int64_t head_dim, IntFrom(text, keys.head_dim, hidden / heads, where));
  GLMQ_ASSIGN_OR_RETURN(int64_t ffn, IntFrom(text, keys.ffn_hidden_size, -1, where));
  GLMQ_ASSIGN_OR_RETURN(double eps, NumberFrom(text, keys.norm_eps, where));
  GLMQ_ASSIGN_OR_RETURN(int64_t vocab, IntFrom(text, keys.padded_vocab, -1, where));
  GLMQ_ASSIGN_OR_RETURN(int64_t ctx, IntFrom(text, keys.max_context, -1, where));
  GLMQ_ASSIGN_OR_RETURN(bool qkv_bias, GetOptionalBool(text, keys.qkv_bias, false, where));
  bool linear_bias = false;
  if (!keys.linear_bias.empty()) {
    GLMQ_ASSIGN_OR_RETURN(linear_bias, GetOptionalBool(text, keys.linear_bias, false, where));
  }
  GLMQ_ASSIGN_OR_RETURN(bool tied, GetOptionalBool(text, "tie_word_embeddings", false, where));
  hp->set_n_layers(layers);
  hp->set_hidden_size(hidden);
  hp->set_n_heads(heads);
  hp->set_n_kv_heads(kv_heads);
  hp->set_head_dim(head_dim);
  hp->set_ffn_hidden_size(ffn);
  hp->set_norm_eps(eps);
  hp->set_padded_vocab_size(vocab);
  hp->set_max_context(ctx);
  hp->set_qkv_bias(qkv_bias);
  hp->set_attn_output_bias(linear_bias);
  hp->set_mlp_bias(linear_bias);
  hp->set_tied_embeddings(tied);
  hp->set_norms_per_layer(keys.norms_per_layer);
  return FillRope(text, keys, where, hp);
}

absl::Status FillTokens(const Json& config, const Json& text, absl::string_view where,
                        pb::HParams* hp) {
  const Json* src = config.contains("eos_token_id") ? &config : &text;
  if (src->contains("eos_token_id") && !(*src)["eos_token_id"].is_null()) {
    GLMQ_ASSIGN_OR_RETURN(std::vector<int64_t> eos, GetIntOrIntList(*src, "eos_token_id", where));
    for (int64_t id : eos) hp->add_eos_token_ids(id);
  }
  const Json* pad_src = config.contains("pad_token_id") ? &config : &text;
  GLMQ_ASSIGN_OR_RETURN(int64_t pad, GetOptionalInt(*pad_src, "pad_token_id", -1, where));
  hp->set_pad_token_id(pad);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<pb::HParams> HParamsFromHfConfig(const Json& config, absl::string_view where) {
  if (!config.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": config must be a JSON object"));
  }
  pb::HParams hp;
  std::string architecture;
  GLMQ_ASSIGN_OR_RETURN(const ConfigKeys* keys, FindKeys(config, where, &architecture));
  hp.set_layout(keys->layout);
  hp.set_architecture(architecture);
  hp.set_model_type(std::string(keys->model_type));
  if (keys->layout == pb::LAYOUT_CHATGLM) {
    GLMQ_RETURN_IF_ERROR(CheckChatglmFlags(config, where));
  }
  // Newer GLM-4.1V configs nest the language model under text_config.
  const Json* text = &config;
  if (auto it = config.find("text_config"); it != config.end() && it->is_object()) text = &*it;
  GLMQ_RETURN_IF_ERROR(FillText(*text, *keys, where, &hp));
  GLMQ_RETURN_IF_ERROR(FillTokens(config, *text, where, &hp));
  auto vit = config.find("vision_config");
  const bool has_vision = vit != config.end() && vit->is_object();
  const std::string vwhere = absl::StrCat(where, ": vision_config");
  if (keys->layout == pb::LAYOUT_CHATGLM && has_vision) {
    hp.set_layout(pb::LAYOUT_CHATGLM_VISION);
    GLMQ_RETURN_IF_ERROR(FillChatglmVision(*vit, hp.hidden_size(), hp.ffn_hidden_size(), vwhere,
                                           hp.mutable_vision()));
  } else if (keys->layout == pb::LAYOUT_GLM4V) {
    if (!has_vision) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": field 'vision_config' is missing (model_type glm4v)"));
    }
    GLMQ_RETURN_IF_ERROR(FillGlm4vVision(*vit, vwhere, hp.mutable_vision()));
  }
  if (hp.has_vision())
    GLMQ_RETURN_IF_ERROR(FillImageTokens(config, hp.layout(), where, hp.mutable_vision()));
  return hp;
}

absl::StatusOr<pb::HParams> HParamsFromConfigFile(const std::string& path) {
  GLMQ_ASSIGN_OR_RETURN(Json config, ReadJsonFile(path));
  return HParamsFromHfConfig(config, path);
}

}  // namespace glmq
