#include "image/preprocess.h"

#include <array>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "image/resample.h"

namespace glmq::image {
namespace {

// Per channel, the final float of each 8-bit value: every step after the
// resize is a function of one byte, so a table holds the exact result.
using ChannelTables = std::array<std::array<float, 256>, 3>;

// Python's round() on a float: to nearest, ties to even.
double RoundHalfEven(double x) {
  const double lo = std::floor(x);
  const double diff = x - lo;
  if (diff > 0.5) return lo + 1;
  if (diff < 0.5) return lo;
  return std::fmod(lo, 2.0) == 0.0 ? lo : lo + 1;
}

absl::Status CheckImage(const RgbImage& image, absl::string_view what) {
  if (image.width < 1 || image.height < 1 ||
      image.pixels.size() != static_cast<size_t>(image.width) * image.height * 3) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": invalid image ", image.width, " x ", image.height));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Glm4vPixels> PreprocessGlm4v(const RgbImage& image, const Glm4vImageConfig& config) {
  GLMQ_RETURN_IF_ERROR(CheckImage(image, "glm-4v preprocessing"));
  const int s = config.image_size;
  GLMQ_ASSIGN_OR_RETURN(const RgbImage resized, ResizeBicubic(image, s, s));
  // torchvision ToTensor (x / 255 in float32), then Normalize in float32.
  ChannelTables table;
  for (int c = 0; c < 3; ++c) {
    for (int v = 0; v < 256; ++v) {
      const float x = static_cast<float>(v) / 255.0f;
      table[c][v] = (x - config.mean[c]) / config.std[c];
    }
  }
  Glm4vPixels out;
  out.size = s;
  const size_t plane = static_cast<size_t>(s) * s;
  out.values.resize(3 * plane);
  for (size_t i = 0; i < plane; ++i) {
    for (int c = 0; c < 3; ++c) out.values[c * plane + i] = table[c][resized.pixels[3 * i + c]];
  }
  return out;
}

absl::StatusOr<ResizedSize> SmartResize(int64_t num_frames, int64_t height, int64_t width,
                                        int64_t temporal_factor, int64_t factor, int64_t min_pixels,
                                        int64_t max_pixels) {
  if (num_frames < 1 || height < 1 || width < 1 || temporal_factor < 1 || factor < 1 ||
      min_pixels < 1 || max_pixels < 1 || height > (1 << 26) || width > (1 << 26) ||
      num_frames > 1024 || factor > (1 << 16)) {
    return absl::InvalidArgumentError(absl::StrCat("smart_resize: invalid arguments t=", num_frames,
                                                   " h=", height, " w=", width,
                                                   " factor=", factor));
  }
  if (num_frames * height * width > (int64_t{1} << 50)) {
    return absl::InvalidArgumentError("smart_resize: frames x pixels over 2^50");
  }
  if (num_frames < temporal_factor) {
    return absl::InvalidArgumentError(absl::StrCat(
        "smart_resize: ", num_frames, " frames, fewer than the temporal factor ", temporal_factor));
  }
  double h = static_cast<double>(height), w = static_cast<double>(width);
  const double f = static_cast<double>(factor);
  if (height < factor || width < factor) {
    const double scale = std::max(f / h, f / w);
    h = std::trunc(h * scale);
    w = std::trunc(w * scale);
  }
  if (std::max(h, w) / std::min(h, w) > 200) {
    return absl::InvalidArgumentError(
        absl::StrCat("smart_resize: aspect ratio of ", height, " x ", width, " is over 200"));
  }
  double h_bar = RoundHalfEven(h / f) * f;
  double w_bar = RoundHalfEven(w / f) * f;
  const double t_bar = RoundHalfEven(static_cast<double>(num_frames) / temporal_factor) *
                       static_cast<double>(temporal_factor);
  // Below 2^53: the products and quotients are exact or rounded once, as in Python.
  const double frames_area = static_cast<double>(num_frames) * h * w;
  if (t_bar * h_bar * w_bar > static_cast<double>(max_pixels)) {
    const double beta = std::sqrt(frames_area / static_cast<double>(max_pixels));
    h_bar = std::max(f, std::floor(h / beta / f) * f);
    w_bar = std::max(f, std::floor(w / beta / f) * f);
  } else if (t_bar * h_bar * w_bar < static_cast<double>(min_pixels)) {
    const double beta = std::sqrt(static_cast<double>(min_pixels) / frames_area);
    h_bar = std::ceil(h * beta / f) * f;
    w_bar = std::ceil(w * beta / f) * f;
  }
  return ResizedSize{static_cast<int64_t>(h_bar), static_cast<int64_t>(w_bar)};
}

absl::StatusOr<Glm41vPixels> PreprocessGlm41v(const RgbImage& image,
                                              const Glm41vImageConfig& config) {
  GLMQ_RETURN_IF_ERROR(CheckImage(image, "GLM-4.1V preprocessing"));
  const int64_t p = config.patch_size, m = config.merge_size, t = config.temporal_patch_size;
  GLMQ_ASSIGN_OR_RETURN(const ResizedSize size, SmartResize(t, image.height, image.width, t, p * m,
                                                            config.min_pixels, config.max_pixels));
  if (size.height * size.width > kMaxImagePixels) {
    return absl::InvalidArgumentError(absl::StrCat(
        "GLM-4.1V preprocessing: resized size ", size.height, " x ", size.width, " is too large"));
  }
  GLMQ_ASSIGN_OR_RETURN(const RgbImage resized, ResizeBicubic(image, static_cast<int>(size.width),
                                                              static_cast<int>(size.height)));
  // rescale: float64(x) * factor -> float32; normalize: float32.
  ChannelTables table;
  for (int c = 0; c < 3; ++c) {
    for (int v = 0; v < 256; ++v) {
      const float x = static_cast<float>(static_cast<double>(v) * config.rescale_factor);
      table[c][v] = (x - config.mean[c]) / config.std[c];
    }
  }
  Glm41vPixels out;
  out.resized_height = size.height;
  out.resized_width = size.width;
  out.grid_t = 1;
  out.grid_h = size.height / p;
  out.grid_w = size.width / p;
  out.row_size = 3 * t * p * p;
  out.patches.resize(static_cast<size_t>(out.grid_h * out.grid_w * out.row_size));
  const size_t row_bytes = static_cast<size_t>(size.width) * 3;
  float* dst = out.patches.data();
  for (int64_t wy = 0; wy < out.grid_h / m; ++wy) {
    for (int64_t wx = 0; wx < out.grid_w / m; ++wx) {
      for (int64_t my = 0; my < m; ++my) {
        for (int64_t mx = 0; mx < m; ++mx) {
          const int64_t y0 = (wy * m + my) * p, x0 = (wx * m + mx) * p;
          for (int c = 0; c < 3; ++c) {
            float* frame0 = dst;
            for (int64_t y = 0; y < p; ++y) {
              const uint8_t* src = resized.pixels.data() + (y0 + y) * row_bytes + x0 * 3 + c;
              for (int64_t x = 0; x < p; ++x) *dst++ = table[c][src[3 * x]];
            }
            for (int64_t f = 1; f < t; ++f, dst += p * p) {
              std::memcpy(dst, frame0, sizeof(float) * p * p);
            }
          }
        }
      }
    }
  }
  return out;
}

}  // namespace glmq::image
