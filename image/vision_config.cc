#include "image/vision_config.h"

#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "image/image.h"

namespace glmq::image {
namespace {

absl::Status FieldError(absl::string_view where, absl::string_view key, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(where, ": field '", key, "' ", what));
}

// An int field in [lo, hi] (`fallback` when absent, unless required).
absl::StatusOr<int64_t> GetIntIn(const Json& obj, absl::string_view key, int64_t lo, int64_t hi,
                                 const int64_t* fallback, absl::string_view where) {
  GLMQ_ASSIGN_OR_RETURN(const int64_t v, fallback != nullptr
                                             ? GetOptionalInt(obj, key, *fallback, where)
                                             : GetInt(obj, key, where));
  if (v < lo || v > hi) {
    return FieldError(where, key, absl::StrCat("must be in [", lo, ", ", hi, "], got ", v));
  }
  return v;
}

absl::StatusOr<std::string> GetOptionalString(const Json& obj, absl::string_view key,
                                              absl::string_view fallback, absl::string_view where) {
  const auto it = obj.find(std::string(key));
  if (it == obj.end() || it->is_null()) return std::string(fallback);
  return GetString(obj, key, where);
}

// A per-channel statistic: a list of 3 numbers or one number for all three,
// rounded to float32 as numpy's np.array(..., dtype=float32) does.
absl::StatusOr<std::array<float, 3>> GetChannelStats(const Json& obj, absl::string_view key,
                                                     const std::array<float, 3>& fallback,
                                                     bool nonzero, absl::string_view where) {
  const auto it = obj.find(std::string(key));
  if (it == obj.end() || it->is_null()) return fallback;
  std::array<float, 3> out;
  if (it->is_number()) {
    out.fill(static_cast<float>(it->get<double>()));
  } else if (it->is_array() && it->size() == 3) {
    for (size_t c = 0; c < 3; ++c) {
      if (!(*it)[c].is_number()) return FieldError(where, key, "must hold 3 numbers");
      out[c] = static_cast<float>((*it)[c].get<double>());
    }
  } else {
    return FieldError(where, key, absl::StrCat("must be a number or 3 numbers, got ", it->dump()));
  }
  for (float v : out) {
    if (!std::isfinite(v) || (nonzero && v == 0.0f)) {
      return FieldError(where, key, absl::StrCat("has an unusable value: ", it->dump()));
    }
  }
  return out;
}

// A switch this code implements only in its default state.
absl::Status RequireBool(const Json& obj, absl::string_view key, bool expected,
                         absl::string_view where) {
  GLMQ_ASSIGN_OR_RETURN(const bool v, GetOptionalBool(obj, key, expected, where));
  if (v != expected) {
    return absl::UnimplementedError(
        absl::StrCat(where, ": field '", key, "' = ", v ? "true" : "false", " is not supported"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Glm4vImageConfig> ParseGlm4vImageConfig(const Json& config,
                                                       absl::string_view where) {
  const auto vc = config.find("vision_config");
  if (!config.is_object() || vc == config.end() || !vc->is_object()) {
    return FieldError(where, "vision_config", "is missing or not an object");
  }
  const std::string vwhere = absl::StrCat(where, ": vision_config");
  Glm4vImageConfig c;
  GLMQ_ASSIGN_OR_RETURN(c.image_size, GetIntIn(*vc, "image_size", 1, 8192, nullptr, vwhere));
  GLMQ_ASSIGN_OR_RETURN(c.patch_size, GetIntIn(*vc, "patch_size", 1, 1024, nullptr, vwhere));
  if (c.image_size % c.patch_size != 0) {
    return FieldError(
        vwhere, "image_size",
        absl::StrCat(c.image_size, " is not a multiple of patch_size ", c.patch_size));
  }
  return c;
}

absl::StatusOr<Glm4vImageConfig> ReadGlm4vImageConfig(const std::string& config_json_path) {
  GLMQ_ASSIGN_OR_RETURN(const Json json, ReadJsonFile(config_json_path));
  return ParseGlm4vImageConfig(json, config_json_path);
}

absl::StatusOr<Glm41vImageConfig> ParseGlm41vImageConfig(const Json& p, absl::string_view where) {
  if (!p.is_object()) return absl::InvalidArgumentError(absl::StrCat(where, ": not a JSON object"));
  Glm41vImageConfig c;
  GLMQ_ASSIGN_OR_RETURN(const std::string type,
                        GetOptionalString(p, "image_processor_type", "Glm4vImageProcessor", where));
  if (!absl::StartsWith(type, "Glm4vImageProcessor")) {
    return FieldError(where, "image_processor_type",
                      absl::StrCat("is '", type, "', not Glm4vImageProcessor"));
  }
  for (const char* key : {"do_resize", "do_rescale", "do_normalize", "do_convert_rgb"}) {
    GLMQ_RETURN_IF_ERROR(RequireBool(p, key, true, where));
  }
  const int64_t bicubic = 3;  // PIL.Image.Resampling.BICUBIC
  GLMQ_ASSIGN_OR_RETURN(const int64_t resample, GetIntIn(p, "resample", 0, 5, &bicubic, where));
  if (resample != bicubic) {
    return absl::UnimplementedError(absl::StrCat(where, ": field 'resample' = ", resample,
                                                 " is not supported (only 3, bicubic)"));
  }
  const int64_t patch = c.patch_size, merge = c.merge_size, temporal = c.temporal_patch_size;
  GLMQ_ASSIGN_OR_RETURN(c.patch_size, GetIntIn(p, "patch_size", 1, 1024, &patch, where));
  GLMQ_ASSIGN_OR_RETURN(c.merge_size, GetIntIn(p, "merge_size", 1, 64, &merge, where));
  GLMQ_ASSIGN_OR_RETURN(c.temporal_patch_size,
                        GetIntIn(p, "temporal_patch_size", 1, 16, &temporal, where));
  const auto size = p.find("size");
  if (size != p.end() && !size->is_null()) {
    const std::string swhere = absl::StrCat(where, ": size");
    GLMQ_ASSIGN_OR_RETURN(c.min_pixels,
                          GetIntIn(*size, "shortest_edge", 1, kMaxImagePixels, nullptr, swhere));
    GLMQ_ASSIGN_OR_RETURN(c.max_pixels, GetIntIn(*size, "longest_edge", c.min_pixels,
                                                 int64_t{1} << 40, nullptr, swhere));
  }
  GLMQ_ASSIGN_OR_RETURN(c.rescale_factor,
                        GetOptionalNumber(p, "rescale_factor", c.rescale_factor, where));
  if (!(c.rescale_factor > 0) || !std::isfinite(c.rescale_factor)) {
    return FieldError(where, "rescale_factor", "must be a positive number");
  }
  GLMQ_ASSIGN_OR_RETURN(c.mean, GetChannelStats(p, "image_mean", c.mean, false, where));
  GLMQ_ASSIGN_OR_RETURN(c.std, GetChannelStats(p, "image_std", c.std, true, where));
  return c;
}

absl::StatusOr<Glm41vImageConfig> ReadGlm41vImageConfig(const std::string& preprocessor_json_path) {
  GLMQ_ASSIGN_OR_RETURN(const Json json, ReadJsonFile(preprocessor_json_path));
  return ParseGlm41vImageConfig(json, preprocessor_json_path);
}

}  // namespace glmq::image
