// What one image costs a vision model (specs/vram.md, "Images"): the patches
// its vision encoder runs over and the language-model tokens it occupies,
// boi/eoi (image start/end) included. glm-4v-9b resizes every image to
// image_size (1120 px: 6,400 patches, 1,600 + 2 tokens); GLM-4.1V keeps the
// image's own size, snapped by smart_resize (image/preprocess.h) to
// multiples of patch * merge within [min_pixels, max_pixels].
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "schema/glmq.pb.h"

namespace glmq::plan {

struct ImageCost {
  int64_t height = 0, width = 0;  // after preprocessing, pixels
  int64_t patches = 0;            // vision-encoder sequence length
  int64_t tokens = 0;             // language-model positions, boi/eoi included
};

// height, width: the input image's size; 0 = the model's image_size square.
// Errors name the field: a model without a vision tower, a size
// smart_resize refuses (aspect ratio over 200, non-positive sides).
absl::StatusOr<ImageCost> PlanImage(const pb::HParams& hp, int64_t height, int64_t width);

// "1920x1080" -> width 1920, height 1080 (each 1..100000).
absl::Status ParseImageSize(const std::string& text, int64_t* width, int64_t* height);

}  // namespace glmq::plan
