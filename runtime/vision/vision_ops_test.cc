// The vision towers' f32 ops on small hand-checkable cases; the fixture
// traces (golden_test.cc) check them at model scale.
#include "runtime/vision/vision_ops.h"

#include <cmath>
#include <numeric>
#include <vector>

#include "gtest/gtest.h"

namespace glmq::vision {
namespace {

TEST(VisionOps, LayerNormAndRmsNorm) {
  const std::vector<float> x = {1, 2, 3, 4, -2, 0, 2, 4};  // [2, 4]
  const std::vector<float> w = {1, 2, 1, 1}, b = {0, 0, 1, 0};
  std::vector<float> out(8);
  LayerNorm(x.data(), 2, 4, w.data(), b.data(), 0.f, out.data(), 2);
  const float s = 1.0f / std::sqrt(1.25f);  // row 0: mean 2.5, variance 1.25
  EXPECT_NEAR(out[0], -1.5f * s, 1e-6);
  EXPECT_NEAR(out[1], -0.5f * s * 2, 1e-6);
  EXPECT_NEAR(out[2], 0.5f * s + 1, 1e-6);
  EXPECT_NEAR(out[7], 3.0f / std::sqrt(5.0f), 1e-6);  // row 1: mean 1, variance 5
  RmsNorm(x.data(), 2, 4, w.data(), 0.f, out.data(), 2);
  EXPECT_NEAR(out[3], 4.0f / std::sqrt(7.5f), 1e-6);
  EXPECT_NEAR(out[5], 0.0f, 1e-6);
}

TEST(VisionOps, AddLayerNormedIsResidualPlusNormalizedBranch) {
  std::vector<float> x = {10, 10, 10, 10};
  std::vector<float> y = {0, 1, 2, 3};
  const std::vector<float> y_bias = {1, 1, 1, 1}, w = {1, 1, 1, 1};
  AddLayerNormed(x.data(), y.data(), y_bias.data(), 1, 4, w.data(), nullptr, 0.f, 2);
  const float s = 1.0f / std::sqrt(1.25f);
  EXPECT_NEAR(x[0], 10 - 1.5f * s, 1e-6);
  EXPECT_NEAR(x[3], 10 + 1.5f * s, 1e-6);
}

TEST(VisionOps, GeluAndSilu) {
  std::vector<float> y = {-1, 0, 2};
  const std::vector<float> bias = {0, 1, 0};
  BiasGelu(y.data(), bias.data(), 1, 3, 1);
  EXPECT_NEAR(y[0], -0.15865525f, 1e-6);  // x * Phi(x)
  EXPECT_NEAR(y[1], 0.84134475f, 1e-6);
  EXPECT_NEAR(y[2], 1.95449974f, 1e-6);
  const std::vector<float> g = {0, 1}, u = {3, 2};
  std::vector<float> out(2);
  SiluMul(g.data(), u.data(), 2, out.data(), 1);
  EXPECT_NEAR(out[0], 0.f, 1e-7);
  EXPECT_NEAR(out[1], 2.0f / (1.0f + std::exp(-1.0f)), 1e-6);
}

TEST(VisionOps, Rope2dNeoxRotatesHalfPairsByRowAndColumnAngles) {
  // head_dim 8: half 4, quarter 2, inv_freq = [1, theta^-0.5].
  const double theta = 100.0;
  std::vector<float> x(8);
  std::iota(x.begin(), x.end(), 1.0f);
  const std::vector<float> orig = x;
  const int32_t row = 3, col = 5;
  Rope2dNeox(x.data(), 8, 1, 1, 8, &row, &col, theta, 1);
  const float angle[4] = {3.0f, 3.0f * 0.1f, 5.0f, 5.0f * 0.1f};
  for (int d = 0; d < 4; ++d) {
    const float c = std::cos(angle[d]), s = std::sin(angle[d]);
    EXPECT_NEAR(x[d], orig[d] * c - orig[d + 4] * s, 1e-5) << d;
    EXPECT_NEAR(x[d + 4], orig[d + 4] * c + orig[d] * s, 1e-5) << d;
  }
  const int32_t zero = 0;
  std::vector<float> y = orig;
  Rope2dNeox(y.data(), 8, 1, 1, 8, &zero, &zero, theta, 1);
  EXPECT_EQ(y, orig);
}

TEST(VisionOps, BicubicResampleSameSizeIsIdentityAndConstantsStay) {
  // [3, 4, 2] table; a 3x4 grid samples exactly at the table's points.
  std::vector<float> table(3 * 4 * 2);
  std::iota(table.begin(), table.end(), 0.0f);
  std::vector<int32_t> rows, cols;
  for (int32_t r = 0; r < 3; ++r)
    for (int32_t c = 0; c < 4; ++c) rows.push_back(r), cols.push_back(c);
  std::vector<float> out(12 * 2);
  BicubicResample(table.data(), 3, 4, 2, 3, 4, rows.data(), cols.data(), 12, out.data(), 2);
  for (size_t i = 0; i < out.size(); ++i) EXPECT_NEAR(out[i], table[i], 1e-6);
  // Constant table, upsampled and downsampled (border taps clamped): constant.
  const std::vector<float> ones(3 * 4 * 2, 1.5f);
  for (int g : {2, 7}) {
    rows.clear(), cols.clear();
    for (int32_t r = 0; r < g; ++r)
      for (int32_t c = 0; c < g; ++c) rows.push_back(r), cols.push_back(c);
    std::vector<float> o(g * g * 2);
    BicubicResample(ones.data(), 3, 4, 2, g, g, rows.data(), cols.data(), g * g, o.data(), 2);
    for (float v : o) EXPECT_NEAR(v, 1.5f, 1e-6) << "grid " << g;
  }
}

TEST(VisionOps, ImageToPatchesAndGatherWindows) {
  // [C=2, H=4, W=4], patch 2: patch (py, px) column (c, i, j).
  std::vector<float> image(32);
  std::iota(image.begin(), image.end(), 0.0f);
  std::vector<float> patches(4 * 8);
  ImageToPatches(image.data(), 2, 4, 4, 2, patches.data());
  // Patch (0, 1), channel 1, (i, j) = (1, 0): image[1, 1, 2] = 16 + 4 + 2.
  EXPECT_EQ(patches[1 * 8 + (1 * 2 + 1) * 2 + 0], 22.0f);
  // GatherWindows: one window of 4 rows of dim 2: out[c * 4 + k] = x[src[k], c].
  const std::vector<float> x = {0, 1, 10, 11, 20, 21, 30, 31};
  const std::vector<int64_t> src = {3, 2, 1, 0};
  std::vector<float> out(8);
  GatherWindows(x.data(), 2, src.data(), 1, 2, out.data(), 1);
  EXPECT_EQ(out, (std::vector<float>{30, 20, 10, 0, 31, 21, 11, 1}));
}

}  // namespace
}  // namespace glmq::vision
