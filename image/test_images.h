// Test helpers: PNG and JPEG files written with libpng / libjpeg, and raw PNG
// chunks for hand-made malformed files.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace glmq::image::testing {

// PNG colour types (the values of libpng's PNG_COLOR_TYPE_*).
enum class PngColor : int { kGray = 0, kRgb = 2, kPalette = 3, kGrayAlpha = 4, kRgba = 6 };

struct PngSpec {
  int width = 0;
  int height = 0;
  PngColor color = PngColor::kRgb;
  int bit_depth = 8;
  std::vector<uint16_t> samples;       // [height, width, channels], each < 2^bit_depth
  std::vector<uint8_t> palette;        // PLTE: RGB triples
  std::vector<uint8_t> palette_alpha;  // tRNS of a palette image
  std::optional<std::array<uint16_t, 3>> trns_color;  // tRNS colour key (gray: [0])
  bool interlaced = false;                            // Adam7
};

int PngChannels(PngColor color);

// Encodes with libpng; empty on a libpng error.
std::vector<uint8_t> EncodePng(const PngSpec& spec);

// A chunk: length, type, data, CRC.
std::string PngChunk(const std::string& type, const std::string& data);
// The 8-byte signature and an IHDR chunk.
std::string PngSignatureAndIhdr(uint32_t width, uint32_t height, int bit_depth, int color_type);

enum class JpegColor { kGray, kYCbCr, kCmyk, kYcck, kTwoChannels };

// Encodes [height, width, channels] samples (RGB for kYCbCr, CMYK as stored
// for kCmyk / kYcck) with libjpeg; empty on an error.
std::vector<uint8_t> EncodeJpeg(int width, int height, JpegColor color,
                                const std::vector<uint8_t>& samples, int quality = 100,
                                bool progressive = false);

}  // namespace glmq::image::testing
