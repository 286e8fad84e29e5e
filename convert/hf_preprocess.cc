// preprocessor_config.json -> VisionHParams.preprocess (convert/hf_config.h).
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "convert/hf_config.h"
#include "core/status.h"

namespace glmq {
namespace {

absl::Status Unsupported(absl::string_view where, absl::string_view field, absl::string_view why) {
  return absl::UnimplementedError(absl::StrCat(where, ": field '", field, "' ", why));
}

// A switch that must be true (or absent) for the processor glmq reproduces.
absl::Status RequireTrue(const Json& p, absl::string_view key, absl::string_view where) {
  GLMQ_ASSIGN_OR_RETURN(bool on, GetOptionalBool(p, key, true, where));
  if (!on) return Unsupported(where, key, "is false; glmq implements the processor with it true");
  return absl::OkStatus();
}

// A size that must equal the vision config's (or be absent).
absl::Status RequireSize(const Json& p, absl::string_view key, int64_t want,
                         absl::string_view where) {
  GLMQ_ASSIGN_OR_RETURN(int64_t got, GetOptionalInt(p, key, want, where));
  if (got != want)
    return Unsupported(where, key, absl::StrCat("is ", got, ", the vision_config says ", want));
  return absl::OkStatus();
}

absl::Status ReadStatistics(const Json& p, absl::string_view key, absl::string_view where,
                            google::protobuf::RepeatedField<float>* out) {
  auto it = p.find(std::string(key));
  if (it == p.end()) return absl::OkStatus();
  if (!it->is_array() || it->size() != 3) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": field '", key, "' must be a list of 3 numbers"));
  }
  out->Clear();
  for (const Json& v : *it) {
    if (!v.is_number())
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": field '", key, "' holds a non-number"));
    out->Add(v.get<float>());
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status FillImagePreprocess(const Json& p, absl::string_view where, pb::HParams* hp) {
  if (!hp->has_vision())
    return absl::InvalidArgumentError(absl::StrCat(where, ": the model has no vision tower"));
  if (!p.is_object())
    return absl::InvalidArgumentError(absl::StrCat(where, ": must be a JSON object"));
  for (const char* key : {"do_resize", "do_rescale", "do_normalize", "do_convert_rgb"})
    GLMQ_RETURN_IF_ERROR(RequireTrue(p, key, where));
  GLMQ_ASSIGN_OR_RETURN(int64_t resample, GetOptionalInt(p, "resample", 3, where));
  if (resample != 3) return Unsupported(where, "resample", "is not 3 (bicubic)");
  pb::VisionHParams& v = *hp->mutable_vision();
  GLMQ_RETURN_IF_ERROR(RequireSize(p, "patch_size", v.patch_size(), where));
  GLMQ_RETURN_IF_ERROR(RequireSize(p, "merge_size", v.spatial_merge_size(), where));
  GLMQ_RETURN_IF_ERROR(RequireSize(p, "temporal_patch_size", v.temporal_patch_size(), where));
  pb::ImagePreprocess& pre = *v.mutable_preprocess();
  if (auto size = p.find("size"); size != p.end() && size->is_object()) {
    const std::string w = absl::StrCat(where, ": size");
    GLMQ_ASSIGN_OR_RETURN(int64_t lo, GetOptionalInt(*size, "shortest_edge", pre.min_pixels(), w));
    GLMQ_ASSIGN_OR_RETURN(int64_t hi, GetOptionalInt(*size, "longest_edge", pre.max_pixels(), w));
    pre.set_min_pixels(lo);
    pre.set_max_pixels(hi);
  }
  GLMQ_ASSIGN_OR_RETURN(double rescale,
                        GetOptionalNumber(p, "rescale_factor", pre.rescale_factor(), where));
  pre.set_rescale_factor(rescale);
  GLMQ_RETURN_IF_ERROR(ReadStatistics(p, "image_mean", where, pre.mutable_image_mean()));
  GLMQ_RETURN_IF_ERROR(ReadStatistics(p, "image_std", where, pre.mutable_image_std()));
  return ValidateHParams(*hp);
}

}  // namespace glmq
