// Pixel tensors for the two vision towers, bit-exact with the Hugging Face
// processors (the fixtures' pixel_values.npy): Pillow's bicubic resize
// (resample.h), then per-channel rescale and normalisation in float32.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "image/image.h"
#include "image/vision_config.h"

namespace glmq::image {

// glm-4v-9b: resize to exactly S x S (no aspect ratio, no crop), x / 255 in
// float32, (x - mean) / std in float32.
struct Glm4vPixels {
  int size = 0;               // S = config.image_size
  std::vector<float> values;  // [3, S, S]
};
absl::StatusOr<Glm4vPixels> PreprocessGlm4v(const RgbImage& image, const Glm4vImageConfig& config);

struct ResizedSize {
  int64_t height = 0;
  int64_t width = 0;
};

// transformers' glm4v smart_resize: the size, in multiples of `factor`, that
// keeps the aspect ratio and num_frames * h * w within [min_pixels,
// max_pixels]. Images with a side below `factor` are first scaled up so that
// their smaller side reaches it (transformers >= 4.57; earlier versions
// raise). Python's round (half to even), floor and ceil on float64, as
// there. Errors: num_frames < temporal_factor, an aspect ratio over 200,
// non-positive arguments.
absl::StatusOr<ResizedSize> SmartResize(int64_t num_frames, int64_t height, int64_t width,
                                        int64_t temporal_factor, int64_t factor, int64_t min_pixels,
                                        int64_t max_pixels);

// GLM-4.1V: smart_resize(temporal, H, W, factor = patch * merge), resize,
// float32(float64(x) * rescale_factor), (x - mean) / std in float32, the frame
// repeated temporal_patch_size times, then cut into patches. Rows run over
// the merge windows row-major and, inside a window, over its merge x merge
// patches row-major; a row is (channel, frame, y, x) flattened, the order of
// the Conv3d patch-embedding weight.
struct Glm41vPixels {
  int64_t resized_height = 0;
  int64_t resized_width = 0;
  int64_t grid_t = 0;          // frames / temporal_patch_size: 1 for an image
  int64_t grid_h = 0;          // resized_height / patch_size
  int64_t grid_w = 0;          // resized_width / patch_size
  int64_t row_size = 0;        // 3 * temporal_patch_size * patch_size^2 (1176)
  std::vector<float> patches;  // [grid_t * grid_h * grid_w, row_size]
};
absl::StatusOr<Glm41vPixels> PreprocessGlm41v(const RgbImage& image,
                                              const Glm41vImageConfig& config);

}  // namespace glmq::image
