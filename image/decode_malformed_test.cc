// Malformed, truncated, oversized and unsupported inputs: every one is an
// error naming the file and the problem, never an abort (run these under
// ASan/UBSan too: they also check for leaks and longjmp misuse).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "image/image.h"
#include "image/test_images.h"

namespace glmq::image {
namespace {

using testing::EncodeJpeg;
using testing::EncodePng;
using ::testing::HasSubstr;
using testing::JpegColor;
using testing::PngChunk;
using testing::PngColor;
using testing::PngSignatureAndIhdr;
using testing::PngSpec;

std::vector<uint8_t> Bytes(const std::string& s) { return {s.begin(), s.end()}; }
template <size_t N>  // a literal, NULs included
std::vector<uint8_t> Bytes(const char (&s)[N]) {
  return {s, s + N - 1};
}

std::string DecodeError(const std::vector<uint8_t>& bytes, const DecodeLimits& limits = {}) {
  absl::StatusOr<RgbImage> image = DecodeImage(bytes, "bad.img", limits);
  EXPECT_FALSE(image.ok());
  if (image.ok()) return "";
  EXPECT_EQ(image.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(image.status().message()), HasSubstr("bad.img: "));
  return std::string(image.status().message());
}

std::vector<uint8_t> SmallPng(bool interlaced = false) {
  PngSpec s;
  s.width = 9;
  s.height = 7;
  s.color = PngColor::kRgb;
  s.interlaced = interlaced;
  for (int i = 0; i < 9 * 7 * 3; ++i) s.samples.push_back((i * 29) % 256);
  return EncodePng(s);
}

std::vector<uint8_t> SmallJpeg(bool progressive = false) {
  std::vector<uint8_t> rgb;
  for (int i = 0; i < 20 * 12 * 3; ++i) rgb.push_back((i * 13) % 256);
  return EncodeJpeg(20, 12, JpegColor::kYCbCr, rgb, 90, progressive);
}

TEST(DecodeMalformedTest, NotAnImage) {
  EXPECT_THAT(DecodeError({}), HasSubstr("not a PNG or JPEG image (0 bytes)"));
  EXPECT_THAT(DecodeError(Bytes("hello, world\n")), HasSubstr("not a PNG or JPEG image"));
  EXPECT_THAT(DecodeError(Bytes("GIF89a\x01\x00\x01\x00")),
              HasSubstr("GIF images are not supported"));
  EXPECT_THAT(DecodeError(Bytes("RIFF\x10\0\0\0WEBPVP8 ")),
              HasSubstr("WebP images are not supported"));
}

TEST(DecodeMalformedTest, EveryTruncatedPng) {
  for (bool interlaced : {false, true}) {
    const std::vector<uint8_t> png = SmallPng(interlaced);
    ASSERT_TRUE(DecodeImage(png, "ok.png").ok());
    // Without IEND (12 bytes) the pixels are all there; any shorter prefix fails.
    for (size_t n = 1; n + 12 < png.size(); ++n) {
      const std::vector<uint8_t> prefix(png.begin(), png.begin() + n);
      absl::StatusOr<RgbImage> image = DecodeImage(prefix, "cut.png");
      ASSERT_FALSE(image.ok()) << n << " of " << png.size() << " bytes decoded";
      ASSERT_THAT(std::string(image.status().message()), HasSubstr("cut.png: "));
    }
  }
}

TEST(DecodeMalformedTest, EveryTruncatedJpeg) {
  for (bool progressive : {false, true}) {
    const std::vector<uint8_t> jpeg = SmallJpeg(progressive);
    ASSERT_TRUE(DecodeImage(jpeg, "ok.jpg").ok());
    // The last 2 bytes are EOI, which a baseline decoder need not read.
    for (size_t n = 1; n + 2 < jpeg.size(); ++n) {
      const std::vector<uint8_t> prefix(jpeg.begin(), jpeg.begin() + n);
      absl::StatusOr<RgbImage> image = DecodeImage(prefix, "cut.jpg");
      ASSERT_FALSE(image.ok()) << n << " of " << jpeg.size() << " bytes decoded";
    }
  }
  EXPECT_THAT(DecodeError(Bytes("\xff\xd8\xff")), HasSubstr("JPEG: truncated data"));
}

TEST(DecodeMalformedTest, PngHeaderProblems) {
  const std::string end = PngChunk("IEND", "");
  EXPECT_THAT(DecodeError(Bytes(PngSignatureAndIhdr(0, 0, 8, 2) + end)), HasSubstr("PNG: "));
  EXPECT_THAT(DecodeError(Bytes(PngSignatureAndIhdr(5, 5, 4, 2) + end)), HasSubstr("PNG: "));
  EXPECT_THAT(DecodeError(Bytes(PngSignatureAndIhdr(5, 5, 8, 9) + end)), HasSubstr("PNG: "));
  // A palette image without PLTE.
  std::string no_plte = PngSignatureAndIhdr(1, 1, 8, 3) + PngChunk("IDAT", "x") + end;
  EXPECT_THAT(DecodeError(Bytes(no_plte)), HasSubstr("PNG: "));
  // Corrupt IHDR CRC.
  std::string bad_crc = PngSignatureAndIhdr(4, 4, 8, 2);
  bad_crc.back() ^= 1;
  EXPECT_THAT(DecodeError(Bytes(bad_crc + end)), HasSubstr("PNG: "));
}

TEST(DecodeMalformedTest, AbsurdDimensionsAreRefusedFromTheHeader) {
  // No image data follows: refusing it says "limit", not "truncated", which
  // shows the header was judged before anything was allocated or read.
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THAT(DecodeError(Bytes(PngSignatureAndIhdr(100000, 100000, 8, 2))),
              HasSubstr("100000 x 100000 = 10000000000 pixels is over the limit of 67108864"));
  EXPECT_THAT(DecodeError(Bytes(PngSignatureAndIhdr(0x7fffffff, 0x7fffffff, 16, 6))),
              HasSubstr("PNG: 2147483647 x 2147483647 = 4611686014132420609 pixels is over"));
  EXPECT_THAT(DecodeError(Bytes(PngSignatureAndIhdr(0xffffffff, 1, 8, 0))),
              HasSubstr("PNG: 4294967295 x 1 = 4294967295 pixels is over"));
  // JPEG: a valid file with its frame header patched to 65000 x 65000.
  std::vector<uint8_t> jpeg = SmallJpeg();
  for (size_t i = 0; i + 9 < jpeg.size(); ++i) {
    if (jpeg[i] == 0xff && jpeg[i + 1] == 0xc0) {  // SOF0: FF C0 len(2) P(1) Y(2) X(2)
      jpeg[i + 5] = jpeg[i + 7] = 0xfd;
      jpeg[i + 6] = jpeg[i + 8] = 0xe8;
      break;
    }
  }
  EXPECT_THAT(DecodeError(jpeg), HasSubstr("JPEG: 65000 x 65000 = 4225000000 pixels is over"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  // A caller's own limit.
  EXPECT_THAT(DecodeError(SmallPng(), DecodeLimits{.max_pixels = 62}),
              HasSubstr("9 x 7 = 63 pixels is over the limit of 62"));
}

TEST(DecodeMalformedTest, CorruptImageData) {
  // IDAT that is not a zlib stream.
  std::string png =
      PngSignatureAndIhdr(4, 4, 8, 2) + PngChunk("IDAT", "not zlib at all") + PngChunk("IEND", "");
  EXPECT_THAT(DecodeError(Bytes(png)), HasSubstr("PNG: "));
  // A JPEG with 2 components (Pillow has no mode for it).
  EXPECT_THAT(DecodeError(EncodeJpeg(8, 8, JpegColor::kTwoChannels, std::vector<uint8_t>(128, 7))),
              HasSubstr("JPEG: 2-component images are not supported"));
  // A JPEG whose scan data is cut out: SOI, tables and frame, then EOI.
  std::vector<uint8_t> jpeg = SmallJpeg();
  for (size_t i = 0; i + 1 < jpeg.size(); ++i) {
    if (jpeg[i] == 0xff && jpeg[i + 1] == 0xda) {
      jpeg.resize(i);
      jpeg.insert(jpeg.end(), {0xff, 0xd9});
      break;
    }
  }
  EXPECT_THAT(DecodeError(jpeg), HasSubstr("JPEG: "));
}

// Random byte flips, insertions and cuts of valid files: any outcome but a
// crash (or a sanitizer report) is fine.
TEST(DecodeMalformedTest, MutatedFilesNeverCrash) {
  std::mt19937 rng(12345);
  const std::vector<std::vector<uint8_t>> seeds = {SmallPng(), SmallPng(true), SmallJpeg(),
                                                   SmallJpeg(true)};
  int decoded = 0, refused = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::vector<uint8_t> data = seeds[iter % seeds.size()];
    const int edits = 1 + rng() % 4;
    for (int e = 0; e < edits && !data.empty(); ++e) {
      const size_t at = rng() % data.size();
      switch (rng() % 3) {
        case 0:
          data[at] ^= static_cast<uint8_t>(1 + rng() % 255);
          break;
        case 1:
          data.insert(data.begin() + at, static_cast<uint8_t>(rng()));
          break;
        default:
          data.resize(at);
          break;
      }
    }
    (DecodeImage(data, "fuzz").ok() ? decoded : refused)++;
  }
  EXPECT_EQ(decoded + refused, 3000);
  EXPECT_GT(refused, 0);
}

class ReadImageFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("glmq_image_test_" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  std::filesystem::path dir_;
};

std::string ReadError(const std::string& path) {
  absl::StatusOr<RgbImage> image = ReadImageFile(path);
  EXPECT_FALSE(image.ok());
  return image.ok() ? "" : std::string(image.status().message());
}

TEST_F(ReadImageFileTest, RefusesWhatIsNotARegularFileOfSaneSize) {
  // The input policy of core/input.h words these errors.
  EXPECT_THAT(ReadError(Path("missing.png")), HasSubstr("cannot open '"));
  EXPECT_THAT(ReadError(dir_.string()), HasSubstr("is a directory, not a regular file"));
  const std::string fifo = Path("fifo.png");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_THAT(ReadError(fifo), HasSubstr("fifo.png' is a FIFO, not a regular file"));  // no block
  const std::string huge = Path("huge.png");  // sparse: takes no disk space
  const int fd = open(huge.c_str(), O_CREAT | O_WRONLY, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, kMaxImageFileBytes + 1), 0);
  close(fd);
  EXPECT_THAT(ReadError(huge),
              HasSubstr("huge.png': image file of 268435457 bytes is over the limit"));
  const std::string text = Path("notes.png");
  FILE* f = std::fopen(text.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("not an image", f);
  std::fclose(f);
  EXPECT_THAT(ReadError(text), HasSubstr("notes.png: not a PNG or JPEG image"));
}

}  // namespace
}  // namespace glmq::image
