// PNG decoding through libpng, converted to RGB with Pillow's semantics
// (image.h). libpng reports errors by longjmp: every function that calls
// into libpng sets its jump target first and owns no C++ object, so a jump
// never crosses a frame with a destructor; the png struct is freed by the
// RAII owner in DecodePng, whose frame the jump never leaves.
#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "image/decode_internal.h"

namespace glmq::image::internal {
namespace {

constexpr absl::string_view kFormat = "PNG";

// Shared with libpng's callbacks (io and error pointer). Plain data only.
struct PngSource {
  const uint8_t* data;
  size_t size;
  size_t pos;
  char error[256];
};

void ReadFromSource(png_structp png, png_bytep out, size_t n) {
  auto* src = static_cast<PngSource*>(png_get_io_ptr(png));
  if (n > src->size - src->pos) png_error(png, "truncated data");
  std::memcpy(out, src->data + src->pos, n);
  src->pos += n;
}

void OnError(png_structp png, png_const_charp msg) {
  auto* src = static_cast<PngSource*>(png_get_error_ptr(png));
  std::snprintf(src->error, sizeof(src->error), "%s", msg);
  png_longjmp(png, 1);
}

void OnWarning(png_structp, png_const_charp) {}  // benign: CRC of ancillary chunks etc.

uint32_t BigEndian32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// What the chunks before the image data say.
struct PngHeader {
  png_uint_32 width = 0;
  png_uint_32 height = 0;
  int bit_depth = 0;
  int color_type = 0;
  int interlace = 0;
  uint8_t palette[256 * 3] = {};  // entries past the PLTE ones stay black, as in Pillow
};

// Reads up to the first IDAT. False on a libpng error (message in the source).
bool ReadHeader(png_structp png, png_infop info, PngHeader* h) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_info(png, info);
  png_get_IHDR(png, info, &h->width, &h->height, &h->bit_depth, &h->color_type, &h->interlace,
               nullptr, nullptr);
  png_colorp plte = nullptr;
  int n_plte = 0;
  if (png_get_PLTE(png, info, &plte, &n_plte) != 0) {
    for (int i = 0; i < n_plte && i < 256; ++i) {
      h->palette[3 * i + 0] = plte[i].red;
      h->palette[3 * i + 1] = plte[i].green;
      h->palette[3 * i + 2] = plte[i].blue;
    }
  }
  return true;
}

// One decoded row (after png_set_packing: one byte per sample below 8 bits,
// big-endian pairs at 16 bits) -> RGB.
using RowConverter = void (*)(const uint8_t* in, int width, const uint8_t* palette, uint8_t* out);

template <int kScale>  // 255 / (2^depth - 1): 255, 85, 17, 1
void GrayToRgb(const uint8_t* in, int width, const uint8_t*, uint8_t* out) {
  for (int x = 0; x < width; ++x) {
    const uint8_t v = static_cast<uint8_t>(in[x] * kScale);
    out[3 * x + 0] = out[3 * x + 1] = out[3 * x + 2] = v;
  }
}

// Pillow opens 16-bit gray as I;16, whose RGB conversion clamps (v > 255 -> 255).
void Gray16ToRgb(const uint8_t* in, int width, const uint8_t*, uint8_t* out) {
  for (int x = 0; x < width; ++x) {
    const uint8_t v = in[2 * x] == 0 ? in[2 * x + 1] : 255;
    out[3 * x + 0] = out[3 * x + 1] = out[3 * x + 2] = v;
  }
}

// kStride bytes per pixel; the first sample's high (or only) byte is gray.
template <int kStride>
void GrayAlphaToRgb(const uint8_t* in, int width, const uint8_t*, uint8_t* out) {
  for (int x = 0; x < width; ++x) {
    const uint8_t v = in[kStride * x];
    out[3 * x + 0] = out[3 * x + 1] = out[3 * x + 2] = v;
  }
}

// kStride bytes per pixel, kSample bytes per sample: keeps the (high) byte of
// R, G and B, drops alpha.
template <int kStride, int kSample>
void ColorToRgb(const uint8_t* in, int width, const uint8_t*, uint8_t* out) {
  for (int x = 0; x < width; ++x) {
    out[3 * x + 0] = in[kStride * x];
    out[3 * x + 1] = in[kStride * x + kSample];
    out[3 * x + 2] = in[kStride * x + 2 * kSample];
  }
}

void PaletteToRgb(const uint8_t* in, int width, const uint8_t* palette, uint8_t* out) {
  for (int x = 0; x < width; ++x) std::memcpy(out + 3 * x, palette + 3 * in[x], 3);
}

struct PixelFormat {
  int color_type;
  int bit_depth;
  int bytes_per_pixel;  // of a decoded row (after png_set_packing)
  RowConverter convert;
};

// Every colour type / bit depth pair PNG allows.
constexpr PixelFormat kPixelFormats[] = {
    {PNG_COLOR_TYPE_GRAY, 1, 1, GrayToRgb<255>},
    {PNG_COLOR_TYPE_GRAY, 2, 1, GrayToRgb<85>},
    {PNG_COLOR_TYPE_GRAY, 4, 1, GrayToRgb<17>},
    {PNG_COLOR_TYPE_GRAY, 8, 1, GrayToRgb<1>},
    {PNG_COLOR_TYPE_GRAY, 16, 2, Gray16ToRgb},
    {PNG_COLOR_TYPE_GRAY_ALPHA, 8, 2, GrayAlphaToRgb<2>},
    {PNG_COLOR_TYPE_GRAY_ALPHA, 16, 4, GrayAlphaToRgb<4>},
    {PNG_COLOR_TYPE_RGB, 8, 3, ColorToRgb<3, 1>},
    {PNG_COLOR_TYPE_RGB, 16, 6, ColorToRgb<6, 2>},
    {PNG_COLOR_TYPE_RGB_ALPHA, 8, 4, ColorToRgb<4, 1>},
    {PNG_COLOR_TYPE_RGB_ALPHA, 16, 8, ColorToRgb<8, 2>},
    {PNG_COLOR_TYPE_PALETTE, 1, 1, PaletteToRgb},
    {PNG_COLOR_TYPE_PALETTE, 2, 1, PaletteToRgb},
    {PNG_COLOR_TYPE_PALETTE, 4, 1, PaletteToRgb},
    {PNG_COLOR_TYPE_PALETTE, 8, 1, PaletteToRgb},
};

const PixelFormat* FindPixelFormat(int color_type, int bit_depth) {
  for (const PixelFormat& f : kPixelFormats) {
    if (f.color_type == color_type && f.bit_depth == bit_depth) return &f;
  }
  return nullptr;
}

// Decodes the image data into `rgb` ([height, width, 3]). `raw` holds one
// decoded row, or all of them for an interlaced image (whose passes fill
// each row in turn). False on a libpng error (message in the source).
bool ReadRows(png_structp png, png_infop info, const PngHeader& h, const PixelFormat& f,
              uint8_t* raw, size_t raw_row_bytes, uint8_t* rgb) {
  if (setjmp(png_jmpbuf(png))) return false;
  if (h.bit_depth < 8) png_set_packing(png);
  const int passes = png_set_interlace_handling(png);
  png_read_update_info(png, info);
  if (png_get_rowbytes(png, info) != raw_row_bytes) png_error(png, "unexpected decoded row size");
  const int width = static_cast<int>(h.width);
  const size_t rgb_row_bytes = static_cast<size_t>(width) * 3;
  const bool whole_image = passes > 1;
  for (int pass = 0; pass < passes; ++pass) {
    for (png_uint_32 y = 0; y < h.height; ++y) {
      uint8_t* row = whole_image ? raw + y * raw_row_bytes : raw;
      png_read_row(png, row, nullptr);
      if (!whole_image) f.convert(row, width, h.palette, rgb + y * rgb_row_bytes);
    }
  }
  if (whole_image) {
    for (png_uint_32 y = 0; y < h.height; ++y) {
      f.convert(raw + y * raw_row_bytes, width, h.palette, rgb + y * rgb_row_bytes);
    }
  }
  return true;
}

// Owns libpng's read and info structs.
class PngReader {
 public:
  explicit PngReader(PngSource* src) {
    png_ = png_create_read_struct(PNG_LIBPNG_VER_STRING, src, OnError, OnWarning);
    if (png_ != nullptr) info_ = png_create_info_struct(png_);
    if (info_ == nullptr) return;
    png_set_read_fn(png_, src, ReadFromSource);
    // Our pixel limit (checked before decoding) replaces libpng's default
    // 1,000,000-pixel side limit; PNG's own maximum side is 2^31 - 1.
    png_set_user_limits(png_, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
  }
  ~PngReader() {
    if (png_ != nullptr) {
      png_destroy_read_struct(&png_, info_ != nullptr ? &info_ : nullptr, nullptr);
    }
  }
  PngReader(const PngReader&) = delete;
  PngReader& operator=(const PngReader&) = delete;

  bool ok() const { return info_ != nullptr; }
  png_structp png() const { return png_; }
  png_infop info() const { return info_; }

 private:
  png_structp png_ = nullptr;
  png_infop info_ = nullptr;
};

}  // namespace

absl::StatusOr<RgbImage> DecodePng(absl::Span<const uint8_t> bytes, absl::string_view name,
                                   const DecodeLimits& limits) {
  // IHDR must come first (signature, length, "IHDR", width, height): judge
  // the dimensions before libpng reads on; libpng validates the rest.
  if (bytes.size() >= 24 && std::memcmp(bytes.data() + 12, "IHDR", 4) == 0) {
    const absl::Status dims = CheckDimensions(
        BigEndian32(bytes.data() + 16), BigEndian32(bytes.data() + 20), limits, name, kFormat);
    if (!dims.ok()) return dims;
  }
  PngSource src{bytes.data(), bytes.size(), 0, {}};
  PngReader reader(&src);
  if (!reader.ok()) return DecodeError(name, kFormat, "cannot create the libpng decoder");
  PngHeader h;
  if (!ReadHeader(reader.png(), reader.info(), &h)) return DecodeError(name, kFormat, src.error);
  const absl::Status dims = CheckDimensions(h.width, h.height, limits, name, kFormat);
  if (!dims.ok()) return dims;
  const PixelFormat* f = FindPixelFormat(h.color_type, h.bit_depth);
  if (f == nullptr) {
    return DecodeError(name, kFormat,
                       absl::StrCat("colour type ", h.color_type, " at ", h.bit_depth,
                                    " bits is not a valid PNG pixel format"));
  }
  const size_t raw_row_bytes = static_cast<size_t>(h.width) * f->bytes_per_pixel;
  const bool interlaced = h.interlace != PNG_INTERLACE_NONE;
  std::vector<uint8_t> raw(raw_row_bytes * (interlaced ? h.height : 1));
  RgbImage out;
  out.width = static_cast<int>(h.width);
  out.height = static_cast<int>(h.height);
  out.pixels.resize(static_cast<size_t>(h.width) * h.height * 3);
  if (!ReadRows(reader.png(), reader.info(), h, *f, raw.data(), raw_row_bytes, out.pixels.data())) {
    return DecodeError(name, kFormat, src.error);
  }
  return out;
}

}  // namespace glmq::image::internal
