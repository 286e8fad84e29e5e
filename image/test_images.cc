#include "image/test_images.h"

#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>

// After <cstdio>: jpeglib.h uses FILE and size_t without including them.
#include <jpeglib.h>
#include <png.h>

namespace glmq::image::testing {
namespace {

void AppendToVector(png_structp png, png_bytep data, size_t n) {
  auto* out = static_cast<std::vector<uint8_t>*>(png_get_io_ptr(png));
  out->insert(out->end(), data, data + n);
}
void FlushNothing(png_structp) {}

// One row of samples in PNG's packed form (MSB-first bits, big-endian 16-bit).
std::vector<uint8_t> PackRow(const uint16_t* samples, int n, int bit_depth) {
  std::vector<uint8_t> row((static_cast<size_t>(n) * bit_depth + 7) / 8, 0);
  for (int i = 0; i < n; ++i) {
    if (bit_depth == 16) {
      row[2 * i] = samples[i] >> 8;
      row[2 * i + 1] = samples[i] & 0xff;
    } else if (bit_depth == 8) {
      row[i] = static_cast<uint8_t>(samples[i]);
    } else {
      const int bit = i * bit_depth;
      row[bit / 8] |= static_cast<uint8_t>(samples[i] << (8 - bit_depth - bit % 8));
    }
  }
  return row;
}

// All libpng calls; no C++ object lives in this frame (libpng longjmps).
bool WritePng(png_structp png, png_infop info, const PngSpec& s, png_bytepp rows,
              std::vector<uint8_t>* out) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_write_fn(png, out, AppendToVector, FlushNothing);
  png_set_IHDR(png, info, s.width, s.height, s.bit_depth, static_cast<int>(s.color),
               s.interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_color plte[256];
  const int n_plte = static_cast<int>(s.palette.size() / 3);
  for (int i = 0; i < n_plte && i < 256; ++i) {
    plte[i] = {s.palette[3 * i], s.palette[3 * i + 1], s.palette[3 * i + 2]};
  }
  if (n_plte > 0) png_set_PLTE(png, info, plte, n_plte);
  if (!s.palette_alpha.empty()) {
    png_set_tRNS(png, info, s.palette_alpha.data(), static_cast<int>(s.palette_alpha.size()),
                 nullptr);
  }
  if (s.trns_color.has_value()) {
    png_color_16 key{};
    key.gray = (*s.trns_color)[0];
    key.red = (*s.trns_color)[0];
    key.green = (*s.trns_color)[1];
    key.blue = (*s.trns_color)[2];
    png_set_tRNS(png, info, nullptr, 0, &key);
  }
  png_set_rows(png, info, rows);
  png_write_png(png, info, PNG_TRANSFORM_IDENTITY, nullptr);
  return true;
}

uint32_t Crc32(const std::string& bytes) {
  uint32_t crc = 0xffffffffu;
  for (unsigned char b : bytes) {
    crc ^= b;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

std::string BigEndian32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

struct JpegErrorJump {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
};
void JpegErrorExit(j_common_ptr cinfo) {
  std::longjmp(reinterpret_cast<JpegErrorJump*>(cinfo->err)->jump, 1);
}

struct JpegParams {
  int width, height, components;
  J_COLOR_SPACE in_space, file_space;
  int quality;
  bool progressive;
};

// All libjpeg calls; no C++ object lives in this frame (error_exit longjmps).
bool WriteJpeg(jpeg_compress_struct* cinfo, JpegErrorJump* err, const JpegParams& p,
               const uint8_t* samples, unsigned char** buffer, unsigned long* size) {
  cinfo->err = jpeg_std_error(&err->mgr);
  err->mgr.error_exit = JpegErrorExit;
  if (setjmp(err->jump)) return false;
  jpeg_create_compress(cinfo);
  jpeg_mem_dest(cinfo, buffer, size);
  cinfo->image_width = p.width;
  cinfo->image_height = p.height;
  cinfo->input_components = p.components;
  cinfo->in_color_space = p.in_space;
  jpeg_set_defaults(cinfo);
  jpeg_set_colorspace(cinfo, p.file_space);
  jpeg_set_quality(cinfo, p.quality, TRUE);
  if (p.progressive) jpeg_simple_progression(cinfo);
  jpeg_start_compress(cinfo, TRUE);
  while (cinfo->next_scanline < cinfo->image_height) {
    JSAMPROW row = const_cast<uint8_t*>(samples) +
                   static_cast<size_t>(cinfo->next_scanline) * p.width * p.components;
    jpeg_write_scanlines(cinfo, &row, 1);
  }
  jpeg_finish_compress(cinfo);
  return true;
}

}  // namespace

int PngChannels(PngColor color) {
  switch (color) {
    case PngColor::kGray:
    case PngColor::kPalette:
      return 1;
    case PngColor::kGrayAlpha:
      return 2;
    case PngColor::kRgb:
      return 3;
    case PngColor::kRgba:
      return 4;
  }
  return 0;
}

std::vector<uint8_t> EncodePng(const PngSpec& spec) {
  const int n = spec.width * PngChannels(spec.color);
  std::vector<std::vector<uint8_t>> rows;
  std::vector<png_bytep> row_pointers;
  for (int y = 0; y < spec.height; ++y) {
    rows.push_back(PackRow(spec.samples.data() + static_cast<size_t>(y) * n, n, spec.bit_depth));
  }
  for (auto& r : rows) row_pointers.push_back(r.data());
  std::vector<uint8_t> out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png != nullptr ? png_create_info_struct(png) : nullptr;
  const bool ok = info != nullptr && WritePng(png, info, spec, row_pointers.data(), &out);
  png_destroy_write_struct(&png, info != nullptr ? &info : nullptr);
  if (!ok) out.clear();
  return out;
}

std::string PngChunk(const std::string& type, const std::string& data) {
  return BigEndian32(static_cast<uint32_t>(data.size())) + type + data +
         BigEndian32(Crc32(type + data));
}

std::string PngSignatureAndIhdr(uint32_t width, uint32_t height, int bit_depth, int color_type) {
  std::string ihdr = BigEndian32(width) + BigEndian32(height);
  ihdr += static_cast<char>(bit_depth);
  ihdr += static_cast<char>(color_type);
  ihdr += std::string(3, '\0');  // compression, filter, interlace
  return std::string("\x89PNG\r\n\x1a\n", 8) + PngChunk("IHDR", ihdr);
}

std::vector<uint8_t> EncodeJpeg(int width, int height, JpegColor color,
                                const std::vector<uint8_t>& samples, int quality,
                                bool progressive) {
  struct Row {
    JpegColor color;
    int components;
    J_COLOR_SPACE in_space, file_space;
  };
  static constexpr Row kRows[] = {
      {JpegColor::kGray, 1, JCS_GRAYSCALE, JCS_GRAYSCALE},
      {JpegColor::kYCbCr, 3, JCS_RGB, JCS_YCbCr},
      {JpegColor::kCmyk, 4, JCS_CMYK, JCS_CMYK},
      {JpegColor::kYcck, 4, JCS_CMYK, JCS_YCCK},
      {JpegColor::kTwoChannels, 2, JCS_UNKNOWN, JCS_UNKNOWN},
  };
  const Row* r = nullptr;
  for (const Row& row : kRows) {
    if (row.color == color) r = &row;
  }
  if (r == nullptr || samples.size() != static_cast<size_t>(width) * height * r->components) {
    return {};
  }
  const JpegParams p{width,         height,  r->components, r->in_space,
                     r->file_space, quality, progressive};
  jpeg_compress_struct cinfo{};
  JpegErrorJump err{};
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  const bool ok = WriteJpeg(&cinfo, &err, p, samples.data(), &buffer, &size);
  jpeg_destroy_compress(&cinfo);
  std::vector<uint8_t> out;
  if (ok) out.assign(buffer, buffer + size);
  std::free(buffer);
  return out;
}

}  // namespace glmq::image::testing
