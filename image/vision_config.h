// Pre-processing settings of the two vision generations, read from the
// Hugging Face files. Plain structs: the .glmq will store the same values.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/json.h"

namespace glmq::image {

// OpenAI CLIP's per-channel statistics (transformers' OPENAI_CLIP_MEAN/STD),
// as the float32 values both processors normalise with.
inline constexpr std::array<float, 3> kOpenAiClipMean = {0.48145466f, 0.4578275f, 0.40821073f};
inline constexpr std::array<float, 3> kOpenAiClipStd = {0.26862954f, 0.26130258f, 0.27577711f};

// glm-4v-9b (EVA2-CLIP). config.json's `vision_config` gives the sizes; the
// statistics are fixed in the checkpoint's own processing code
// (torchvision Resize((S, S), BICUBIC) -> ToTensor -> Normalize(CLIP)), not in
// any file.
struct Glm4vImageConfig {
  int image_size = 1120;  // the image is resized to image_size x image_size
  int patch_size = 14;    // image_size must be a multiple
  std::array<float, 3> mean = kOpenAiClipMean;
  std::array<float, 3> std = kOpenAiClipStd;
};

// GLM-4.1V (Glm4vImageProcessor, the PIL one), from preprocessor_config.json;
// absent keys take the processor's defaults.
struct Glm41vImageConfig {
  int patch_size = 14;
  int merge_size = 2;                    // merge window side, in patches
  int temporal_patch_size = 2;           // a still image is repeated this many times
  int64_t min_pixels = 112 * 112;        // size.shortest_edge (a pixel COUNT, not an edge)
  int64_t max_pixels = 28 * 28 * 15000;  // size.longest_edge (likewise)
  double rescale_factor = 1.0 / 255;     // applied in float64, then rounded to float32
  std::array<float, 3> mean = kOpenAiClipMean;
  std::array<float, 3> std = kOpenAiClipStd;
};

// From a parsed config.json (`where` names it in errors): requires
// vision_config.image_size and .patch_size.
absl::StatusOr<Glm4vImageConfig> ParseGlm4vImageConfig(const Json& config, absl::string_view where);
absl::StatusOr<Glm4vImageConfig> ReadGlm4vImageConfig(const std::string& config_json_path);

// From a parsed preprocessor_config.json. Settings this code does not
// implement (do_resize / do_rescale / do_normalize / do_convert_rgb false,
// resample other than 3 = bicubic, another image_processor_type) are errors.
absl::StatusOr<Glm41vImageConfig> ParseGlm41vImageConfig(const Json& preprocessor,
                                                         absl::string_view where);
absl::StatusOr<Glm41vImageConfig> ReadGlm41vImageConfig(const std::string& preprocessor_json_path);

}  // namespace glmq::image
