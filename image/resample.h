// Bicubic resize of 8-bit RGB that reproduces Pillow's
// `Image.resize((w, h), Image.BICUBIC)` bit for bit (Pillow >= 12.2, whose
// only change in this path is the vertical-first order for very tall images;
// earlier versions agree everywhere else).
//
// Pillow's resampler (src/libImaging/Resample.c, ImagingResample):
//  - separable, two passes: horizontal into an 8-bit intermediate (only the
//    source rows the vertical pass reads), then vertical; a pass whose size
//    does not change is skipped, and an unchanged size is a copy;
//  - kernel: cubic convolution with a = -0.5, support 2; when downsampling by
//    s > 1 the kernel is stretched by s (support 2s, argument / s), an
//    antialiasing box, not a point sampler;
//  - per output pixel: centre (i + 0.5) * s, taps from trunc(centre - support
//    + 0.5) to trunc(centre + support + 0.5) clipped to the image, weights
//    evaluated at (j - centre + 0.5) / max(s, 1) and divided by their sum
//    (double), then rounded half away from zero to 22-bit fixed point;
//  - accumulate in int32 from 2^21 (rounding), >> 22, clamp to 0..255.
// Images taller than 100x their width that shrink in height run the vertical
// pass first (Image.resize, Pillow 12.2).
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "image/image.h"

namespace glmq::image {

// Resizes `in` to out_width x out_height. Errors: empty input, sizes < 1 or
// an output over kMaxImagePixels.
absl::StatusOr<RgbImage> ResizeBicubic(const RgbImage& in, int out_width, int out_height);

// The fixed-point filter of one pass, exposed for tests: output i reads
// source[first[i] + j] * weights[i * taps + j] for j < count[i].
struct ResampleTaps {
  int taps = 0;                  // maximum taps per output, ceil(support) * 2 + 1
  std::vector<int> first;        // [out_size]
  std::vector<int> count;        // [out_size]
  std::vector<int32_t> weights;  // [out_size, taps], 22 fraction bits
};
ResampleTaps ComputeBicubicTaps(int in_size, int out_size);

}  // namespace glmq::image
