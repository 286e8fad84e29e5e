// Colour-mode conversions of the PNG and JPEG decoders: the pixels of Pillow's
// Image.open(f).convert("RGB") (image.h), on small files written with libpng /
// libjpeg here. The same conversions were compared against Pillow 9.4.0 on
// randomised files of every PNG colour type and bit depth, and on gray, RGB
// (all subsamplings, progressive) and CMYK JPEGs: identical.
#include <cstdio>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "image/image.h"
#include "image/test_images.h"

namespace glmq::image {
namespace {

using testing::EncodeJpeg;
using testing::EncodePng;
using testing::JpegColor;
using testing::PngColor;
using testing::PngSpec;

RgbImage Decode(const std::vector<uint8_t>& bytes) {
  EXPECT_FALSE(bytes.empty()) << "the test file was not written";
  absl::StatusOr<RgbImage> image = DecodeImage(bytes, "test.img");
  EXPECT_TRUE(image.ok()) << image.status();
  return image.ok() ? *std::move(image) : RgbImage();
}

// A 1-row image of the given samples.
PngSpec Row(PngColor color, int bit_depth, std::vector<uint16_t> samples) {
  PngSpec s;
  s.color = color;
  s.bit_depth = bit_depth;
  s.height = 1;
  s.width = static_cast<int>(samples.size()) / testing::PngChannels(color);
  s.samples = std::move(samples);
  return s;
}

// R = G = B = each of `gray`.
std::vector<uint8_t> GrayRgb(const std::vector<int>& gray) {
  std::vector<uint8_t> out;
  for (int g : gray) out.insert(out.end(), 3, static_cast<uint8_t>(g));
  return out;
}

TEST(DecodePngTest, GrayLowBitDepthsScaleTo255) {
  EXPECT_EQ(Decode(EncodePng(Row(PngColor::kGray, 1, {0, 1, 1, 0}))).pixels,
            GrayRgb({0, 255, 255, 0}));
  EXPECT_EQ(Decode(EncodePng(Row(PngColor::kGray, 2, {0, 1, 2, 3}))).pixels,
            GrayRgb({0, 85, 170, 255}));
  EXPECT_EQ(Decode(EncodePng(Row(PngColor::kGray, 4, {0, 1, 7, 15}))).pixels,
            GrayRgb({0, 17, 119, 255}));
  EXPECT_EQ(Decode(EncodePng(Row(PngColor::kGray, 8, {0, 1, 128, 255}))).pixels,
            GrayRgb({0, 1, 128, 255}));
}

TEST(DecodePngTest, Gray16IsClampedNotScaled) {
  // Pillow opens 16-bit gray as I;16 and its RGB conversion clamps at 255.
  EXPECT_EQ(Decode(EncodePng(Row(PngColor::kGray, 16, {0, 200, 255, 256, 1000, 65535}))).pixels,
            GrayRgb({0, 200, 255, 255, 255, 255}));
}

TEST(DecodePngTest, GrayAlphaDropsAlpha) {
  EXPECT_EQ(Decode(EncodePng(Row(PngColor::kGrayAlpha, 8, {10, 0, 200, 255, 77, 128}))).pixels,
            GrayRgb({10, 200, 77}));
  // 16-bit gray + alpha: Pillow reads it as RGBA with the high bytes.
  EXPECT_EQ(Decode(EncodePng(Row(PngColor::kGrayAlpha, 16, {0x1234, 0, 0xffff, 0x8000, 0x00ff, 1})))
                .pixels,
            GrayRgb({0x12, 0xff, 0x00}));
}

TEST(DecodePngTest, RgbAndRgbaKeepTheHighByteAndDropAlpha) {
  EXPECT_EQ(Decode(EncodePng(Row(PngColor::kRgb, 8, {1, 2, 3, 250, 251, 252}))).pixels,
            std::vector<uint8_t>({1, 2, 3, 250, 251, 252}));
  EXPECT_EQ(Decode(EncodePng(Row(PngColor::kRgb, 16, {0xabcd, 0x00ff, 0x0100, 0xffff, 0, 0x7f80})))
                .pixels,
            std::vector<uint8_t>({0xab, 0x00, 0x01, 0xff, 0x00, 0x7f}));
  // A fully transparent pixel keeps its colour: no compositing on any background.
  EXPECT_EQ(Decode(EncodePng(Row(PngColor::kRgba, 8, {9, 8, 7, 0, 200, 100, 50, 255}))).pixels,
            std::vector<uint8_t>({9, 8, 7, 200, 100, 50}));
  EXPECT_EQ(Decode(EncodePng(Row(PngColor::kRgba, 16,
                                 {0x1111, 0x2222, 0x3333, 0, 0xfe01, 0x0102, 0x0203, 0xffff})))
                .pixels,
            std::vector<uint8_t>({0x11, 0x22, 0x33, 0xfe, 0x01, 0x02}));
}

TEST(DecodePngTest, PaletteIgnoresTransparencyAndBlacksOutMissingEntries) {
  PngSpec s = Row(PngColor::kPalette, 8, {0, 1, 2, 3});
  s.palette = {10, 20, 30, 40, 50, 60, 70, 80, 90};  // 3 entries: index 3 is past them
  s.palette_alpha = {0, 128};                        // tRNS: dropped, not composited
  // Pillow >= 10.1 fills the palette past PLTE with black (9.x had a gray ramp).
  EXPECT_EQ(Decode(EncodePng(s)).pixels,
            std::vector<uint8_t>({10, 20, 30, 40, 50, 60, 70, 80, 90, 0, 0, 0}));
}

TEST(DecodePngTest, LowBitDepthPaletteIndices) {
  for (int depth : {1, 2, 4}) {
    PngSpec s = Row(PngColor::kPalette, depth, {1, 0, 1, 1, 0});
    s.palette = {255, 0, 0, 0, 0, 255};
    EXPECT_EQ(Decode(EncodePng(s)).pixels,
              std::vector<uint8_t>({0, 0, 255, 255, 0, 0, 0, 0, 255, 0, 0, 255, 255, 0, 0}))
        << depth << "-bit";
  }
}

TEST(DecodePngTest, ColourKeyTransparencyIsIgnored) {
  PngSpec gray = Row(PngColor::kGray, 8, {5, 6, 7});
  gray.trns_color = std::array<uint16_t, 3>{6, 0, 0};
  EXPECT_EQ(Decode(EncodePng(gray)).pixels, GrayRgb({5, 6, 7}));
  PngSpec rgb = Row(PngColor::kRgb, 8, {1, 2, 3, 4, 5, 6});
  rgb.trns_color = std::array<uint16_t, 3>{1, 2, 3};
  EXPECT_EQ(Decode(EncodePng(rgb)).pixels, std::vector<uint8_t>({1, 2, 3, 4, 5, 6}));
}

TEST(DecodePngTest, InterlacedEqualsProgressiveRows) {
  PngSpec s;
  s.width = 13;
  s.height = 11;
  s.color = PngColor::kRgb;
  for (int i = 0; i < s.width * s.height * 3; ++i) s.samples.push_back((i * 37 + i / 7) % 256);
  const RgbImage plain = Decode(EncodePng(s));
  s.interlaced = true;
  const RgbImage adam7 = Decode(EncodePng(s));
  EXPECT_EQ(adam7.width, 13);
  EXPECT_EQ(adam7.height, 11);
  EXPECT_EQ(adam7.pixels, plain.pixels);
  EXPECT_EQ(std::vector<uint8_t>(plain.pixels.begin(), plain.pixels.begin() + 6),
            std::vector<uint8_t>({0, 37, 74, 111, 148, 185}));
}

// Constant images survive JPEG exactly at quality 100 (DC only, unit quantiser).
std::vector<uint8_t> Constant(int n_pixels, std::vector<uint8_t> value) {
  std::vector<uint8_t> out;
  for (int i = 0; i < n_pixels; ++i) out.insert(out.end(), value.begin(), value.end());
  return out;
}

TEST(DecodeJpegTest, GrayAndYCbCr) {
  const RgbImage gray = Decode(EncodeJpeg(16, 8, JpegColor::kGray, Constant(128, {77})));
  EXPECT_EQ(gray.width, 16);
  EXPECT_EQ(gray.height, 8);
  EXPECT_EQ(gray.pixels, Constant(128, {77, 77, 77}));
  const RgbImage rgb = Decode(EncodeJpeg(9, 7, JpegColor::kYCbCr, Constant(63, {255, 255, 255})));
  EXPECT_EQ(rgb.pixels, Constant(63, {255, 255, 255}));
  const RgbImage progressive =
      Decode(EncodeJpeg(9, 7, JpegColor::kYCbCr, Constant(63, {0, 0, 0}), 100, true));
  EXPECT_EQ(progressive.pixels, Constant(63, {0, 0, 0}));
}

TEST(DecodeJpegTest, CmykIsAdobeInvertedThenPillowsCmykToRgb) {
  // Stored samples are inverted ink (Adobe): 255 = no ink, 0 = full ink.
  // Pillow: c = 255 - stored, nk = 255 - k, R = nk - (c * nk) / 255 (its rounding).
  struct Case {
    std::vector<uint8_t> stored_cmyk;
    std::vector<uint8_t> rgb;
  };
  const Case cases[] = {
      {{255, 255, 255, 255}, {255, 255, 255}},  // no ink: white
      {{0, 0, 0, 0}, {0, 0, 0}},                // full ink: black
      {{255, 0, 255, 255}, {255, 0, 255}},      // magenta ink
      {{255, 255, 255, 127}, {127, 127, 127}},  // half black: nk = 127
      {{155, 255, 205, 200}, {122, 200, 161}},  // c=100: 200 - (100*200+128)/255 -> 122
  };
  for (const Case& c : cases) {
    for (JpegColor color : {JpegColor::kCmyk, JpegColor::kYcck}) {
      const RgbImage image = Decode(EncodeJpeg(8, 8, color, Constant(64, c.stored_cmyk)));
      ASSERT_EQ(image.pixels.size(), 64u * 3);
      const std::vector<uint8_t> first(image.pixels.begin(), image.pixels.begin() + 3);
      if (color == JpegColor::kCmyk) {
        EXPECT_EQ(first, c.rgb) << int(c.stored_cmyk[0]) << " " << int(c.stored_cmyk[3]);
      } else {  // YCCK's colour transform rounds: within 2 levels
        for (int i = 0; i < 3; ++i) EXPECT_NEAR(first[i], c.rgb[i], 2);
      }
    }
  }
}

TEST(ReadImageFileTest, ReadsTheFixturePng) {
  const std::string path = std::string(GLMQ_SHARED_DIR) + "/fixtures/reference/glm4v-tiny.img1.png";
  absl::StatusOr<RgbImage> image = ReadImageFile(path);
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(image->width, 160);
  EXPECT_EQ(image->height, 120);
  EXPECT_EQ(image->pixels.size(), 160u * 120 * 3);
}

}  // namespace
}  // namespace glmq::image
