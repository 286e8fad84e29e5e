#include "image/resample.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace glmq::image {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;  // 22: two bits for overshoot and sign
constexpr double kBicubicSupport = 2.0;

// Cubic convolution kernel with a = -0.5 (Keys), in Pillow's evaluation order.
double Bicubic(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

uint8_t Clip8(int32_t acc) {
  const int32_t v = acc >> kPrecisionBits;  // arithmetic shift (floor)
  return static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
}

// [rows, out_w, 3] <- source rows [row0, row0 + rows) of [.., in_w, 3].
void HorizontalPass(const RgbImage& in, int row0, int rows, const ResampleTaps& t, RgbImage* out) {
  const int out_w = static_cast<int>(t.first.size());
  out->width = out_w;
  out->height = rows;
  out->pixels.resize(static_cast<size_t>(out_w) * rows * 3);
  for (int y = 0; y < rows; ++y) {
    const uint8_t* src = in.pixels.data() + static_cast<size_t>(row0 + y) * in.width * 3;
    uint8_t* dst = out->pixels.data() + static_cast<size_t>(y) * out_w * 3;
    for (int x = 0; x < out_w; ++x) {
      const int32_t* k = &t.weights[static_cast<size_t>(x) * t.taps];
      const uint8_t* p = src + static_cast<size_t>(t.first[x]) * 3;
      int32_t s0 = 1 << (kPrecisionBits - 1), s1 = s0, s2 = s0;
      for (int j = 0; j < t.count[x]; ++j) {
        s0 += p[3 * j + 0] * k[j];
        s1 += p[3 * j + 1] * k[j];
        s2 += p[3 * j + 2] * k[j];
      }
      dst[3 * x + 0] = Clip8(s0);
      dst[3 * x + 1] = Clip8(s1);
      dst[3 * x + 2] = Clip8(s2);
    }
  }
}

// [out_h, w, 3] <- in; the taps' first rows are relative to in's row 0. The
// channels of a pixel share the weights, so each byte of a row is a column.
void VerticalPass(const RgbImage& in, const ResampleTaps& t, RgbImage* out) {
  const int out_h = static_cast<int>(t.first.size());
  const size_t row_bytes = static_cast<size_t>(in.width) * 3;
  out->width = in.width;
  out->height = out_h;
  out->pixels.resize(row_bytes * out_h);
  std::vector<int32_t> acc(row_bytes);
  for (int y = 0; y < out_h; ++y) {
    const int32_t* k = &t.weights[static_cast<size_t>(y) * t.taps];
    std::fill(acc.begin(), acc.end(), 1 << (kPrecisionBits - 1));
    for (int j = 0; j < t.count[y]; ++j) {
      const uint8_t* src = in.pixels.data() + static_cast<size_t>(t.first[y] + j) * row_bytes;
      const int32_t w = k[j];
      for (size_t i = 0; i < row_bytes; ++i) acc[i] += src[i] * w;
    }
    uint8_t* dst = out->pixels.data() + static_cast<size_t>(y) * row_bytes;
    for (size_t i = 0; i < row_bytes; ++i) dst[i] = Clip8(acc[i]);
  }
}

}  // namespace

ResampleTaps ComputeBicubicTaps(int in_size, int out_size) {
  // Pillow passes the source box as floats: scale = (float(in) - 0.f) / out.
  const double scale = static_cast<double>(static_cast<float>(in_size)) / out_size;
  const double filter_scale = scale < 1.0 ? 1.0 : scale;
  const double support = kBicubicSupport * filter_scale;
  const double inv_filter_scale = 1.0 / filter_scale;
  ResampleTaps t;
  t.taps = static_cast<int>(std::ceil(support)) * 2 + 1;
  t.first.resize(out_size);
  t.count.resize(out_size);
  t.weights.assign(static_cast<size_t>(out_size) * t.taps, 0);
  std::vector<double> w(t.taps);
  for (int i = 0; i < out_size; ++i) {
    const double center = (i + 0.5) * scale;
    int lo = static_cast<int>(center - support + 0.5);
    if (lo < 0) lo = 0;
    int hi = static_cast<int>(center + support + 0.5);
    if (hi > in_size) hi = in_size;
    const int n = hi - lo;
    double sum = 0.0;
    for (int j = 0; j < n; ++j) {
      w[j] = Bicubic((j + lo - center + 0.5) * inv_filter_scale);
      sum += w[j];
    }
    if (sum != 0.0) {
      for (int j = 0; j < n; ++j) w[j] /= sum;
    }
    int32_t* k = &t.weights[static_cast<size_t>(i) * t.taps];
    for (int j = 0; j < n; ++j) {
      const double f = w[j] * (1 << kPrecisionBits);
      k[j] = static_cast<int32_t>(w[j] < 0 ? -0.5 + f : 0.5 + f);
    }
    t.first[i] = lo;
    t.count[i] = n;
  }
  return t;
}

absl::StatusOr<RgbImage> ResizeBicubic(const RgbImage& in, int out_width, int out_height) {
  if (in.width < 1 || in.height < 1 ||
      in.pixels.size() != static_cast<size_t>(in.width) * in.height * 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("resize: invalid input image ", in.width, " x ", in.height));
  }
  if (out_width < 1 || out_height < 1 ||
      static_cast<int64_t>(out_width) * out_height > kMaxImagePixels) {
    return absl::InvalidArgumentError(
        absl::StrCat("resize: invalid output size ", out_width, " x ", out_height));
  }
  const bool horizontal = out_width != in.width;
  const bool vertical = out_height != in.height;
  if (!horizontal && !vertical) return in;
  RgbImage tmp, out;
  if (in.height > static_cast<int64_t>(in.width) * 100 && out_height < in.height) {
    // Pillow >= 12.2: very tall images shrink vertically first.
    VerticalPass(in, ComputeBicubicTaps(in.height, out_height), &tmp);
    if (!horizontal) return tmp;
    HorizontalPass(tmp, 0, tmp.height, ComputeBicubicTaps(in.width, out_width), &out);
    return out;
  }
  ResampleTaps vt = ComputeBicubicTaps(in.height, out_height);
  if (!horizontal) {
    VerticalPass(in, vt, &out);
    return out;
  }
  // Only the source rows the vertical pass reads go through the horizontal one.
  const int row0 = vt.first.front();
  const int row_end = vt.first.back() + vt.count.back();
  HorizontalPass(in, row0, row_end - row0, ComputeBicubicTaps(in.width, out_width), &tmp);
  if (!vertical) return tmp;
  for (int& f : vt.first) f -= row0;
  VerticalPass(tmp, vt, &out);
  return out;
}

}  // namespace glmq::image
