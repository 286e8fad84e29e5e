// Image input for the vision models: PNG and JPEG decoding into 8-bit RGB
// with the pixels of Pillow's `Image.open(f).convert("RGB")`, which is what
// the Hugging Face processors of glm-4v-9b and GLM-4.1V see.
//
// Colour semantics (Pillow's, checked against its source):
//  - gray 1/2/4/8-bit: replicated to R=G=B (low bit depths scaled to 0..255);
//  - gray 16-bit: CLAMPED to 255 (Pillow's I;16 -> RGB), not scaled;
//  - RGB / RGBA / gray+alpha 16-bit: the high byte of each sample;
//  - alpha (RGBA, gray+alpha, palette or colour-key tRNS) is dropped, never
//    composited onto a background;
//  - palette: looked up; indices past the PLTE entries are black;
//  - JPEG gray / YCbCr / RGB as libjpeg decodes them (islow IDCT, fancy
//    upsampling); 4-channel CMYK / YCCK as Adobe-inverted CMYK, then
//    Pillow's cmyk2rgb (R = K' - K'*C'/255 in its integer arithmetic).
// EXIF orientation is not applied (Image.open does not apply it either).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace glmq::image {

// An 8-bit RGB image, rows top to bottom, pixels left to right.
struct RgbImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> pixels;  // [height, width, 3]
};

// Largest image accepted, width * height: 2^26 = 67,108,864 pixels (8192 x
// 8192; 192 MiB as RGB). Far above what the vision models use (GLM-4.1V's
// default max_pixels is 11,760,000, glm-4v resizes to 1120 x 1120), and
// checked from the header before any pixel buffer is allocated, so a small
// file claiming 100000 x 100000 costs nothing.
inline constexpr int64_t kMaxImagePixels = int64_t{1} << 26;
// Largest file ReadImageFile reads: 256 MiB.
inline constexpr int64_t kMaxImageFileBytes = int64_t{256} << 20;

struct DecodeLimits {
  int64_t max_pixels = kMaxImagePixels;
};

// Decodes a PNG or JPEG held in memory (the format is taken from the
// signature). `name` (a path or any label) starts every error message.
// Robust on any input: malformed, truncated or oversized data returns
// InvalidArgument; nothing aborts. Thread-safe.
absl::StatusOr<RgbImage> DecodeImage(absl::Span<const uint8_t> bytes, absl::string_view name,
                                     const DecodeLimits& limits = {});

// Reads and decodes a regular file of at most kMaxImageFileBytes (FIFOs,
// devices and directories are refused without blocking).
absl::StatusOr<RgbImage> ReadImageFile(const std::string& path, const DecodeLimits& limits = {});

}  // namespace glmq::image
