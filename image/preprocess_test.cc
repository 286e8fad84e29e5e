// smart_resize, the GLM-4.1V patch layout, glm-4v normalisation and the two
// config parsers. Expected smart_resize sizes come from running transformers'
// Python function on the same arguments.
#include "image/preprocess.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "image/vision_config.h"

namespace glmq::image {
namespace {

using ::testing::HasSubstr;
using HW = std::pair<int64_t, int64_t>;  // (height, width)

HW Smart(int64_t h, int64_t w, int64_t min_pixels, int64_t max_pixels) {
  absl::StatusOr<ResizedSize> s = SmartResize(2, h, w, 2, 28, min_pixels, max_pixels);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? HW(s->height, s->width) : HW(-1, -1);
}

TEST(SmartResizeTest, Branches) {
  const int64_t kDefaultMax = 28 * 28 * 15000;
  // Too few pixels (2 * 56 * 84 = 9408 < 12544): scaled up by sqrt(12544 / 9408).
  EXPECT_EQ(Smart(56, 84, 12544, 37632), HW(84, 112));
  EXPECT_EQ(Smart(7, 9, 12544, kDefaultMax), HW(84, 112));
  // Too many: beta = sqrt(2*1000*1000 / 37632), floor to multiples of 28.
  EXPECT_EQ(Smart(1000, 1000, 12544, 37632), HW(112, 112));
  EXPECT_EQ(Smart(3000, 4000, 12544, kDefaultMax), HW(2100, 2800));
  EXPECT_EQ(Smart(120, 160, 12544, 37632), HW(112, 168));
  // In range: nearest multiple of 28.
  EXPECT_EQ(Smart(1080, 1920, 12544, kDefaultMax), HW(1092, 1932));
}

TEST(SmartResizeTest, RoundsHalfToEvenLikePython) {
  // 42/28 = 1.5 -> 2, 70/28 = 2.5 -> 2, 98/28 = 3.5 -> 4, 126/28 = 4.5 -> 4.
  EXPECT_EQ(Smart(42, 70, 1, int64_t{1} << 40), HW(56, 56));
  EXPECT_EQ(Smart(98, 126, 1, int64_t{1} << 40), HW(112, 112));
}

TEST(SmartResizeTest, SidesBelowTheFactorAreScaledUpFirst) {
  // scale = max(28/10, 28/100) = 2.8: 10 x 100 -> 28 x 280.
  EXPECT_EQ(Smart(10, 100, 12544, 37632), HW(28, 280));
  EXPECT_EQ(Smart(27, 5000, 12544, 28 * 28 * 15000), HW(28, 5180));
  EXPECT_EQ(Smart(1, 1, 12544, 28 * 28 * 15000), HW(84, 84));
}

TEST(SmartResizeTest, Errors) {
  EXPECT_THAT(SmartResize(2, 28, 28 * 201, 2, 28, 1, 1 << 30).status().message(),
              HasSubstr("aspect ratio"));
  EXPECT_THAT(SmartResize(1, 56, 56, 2, 28, 1, 1 << 30).status().message(),
              HasSubstr("temporal factor"));
  EXPECT_FALSE(SmartResize(2, 0, 56, 2, 28, 1, 1 << 30).ok());
}

// A 28 x 56 image whose byte at (y, x, c) is a function of all three, with
// mean 0, std 1 and rescale 1, so each float names the pixel it came from.
uint8_t Code(int y, int x, int c) { return static_cast<uint8_t>(y * 9 + x * 2 + c * 85); }

TEST(PreprocessGlm41vTest, PatchRowsFollowTheMergeWindows) {
  RgbImage image;
  image.height = 28;
  image.width = 56;
  for (int y = 0; y < 28; ++y) {
    for (int x = 0; x < 56; ++x) {
      for (int c = 0; c < 3; ++c) image.pixels.push_back(Code(y, x, c));
    }
  }
  Glm41vImageConfig config;
  config.min_pixels = 1;  // 28 x 56 is already a multiple of 28: no resize
  config.rescale_factor = 1.0;
  config.mean = {0, 0, 0};
  config.std = {1, 1, 1};
  absl::StatusOr<Glm41vPixels> px = PreprocessGlm41v(image, config);
  ASSERT_TRUE(px.ok()) << px.status();
  EXPECT_EQ(px->resized_height, 28);
  EXPECT_EQ(px->resized_width, 56);
  EXPECT_EQ(px->grid_t, 1);
  EXPECT_EQ(px->grid_h, 2);
  EXPECT_EQ(px->grid_w, 4);
  ASSERT_EQ(px->row_size, 1176);
  ASSERT_EQ(px->patches.size(), 8u * 1176);
  // Rows: window (0,0) = patches (0,0) (0,1) (1,0) (1,1), then window (0,1).
  const int patch_y[8] = {0, 0, 1, 1, 0, 0, 1, 1};
  const int patch_x[8] = {0, 1, 0, 1, 2, 3, 2, 3};
  for (int row = 0; row < 8; ++row) {
    for (int c = 0; c < 3; ++c) {
      for (int t = 0; t < 2; ++t) {  // the frame, twice
        for (int y = 0; y < 14; ++y) {
          for (int x = 0; x < 14; ++x) {
            const float got = px->patches[row * 1176 + ((c * 2 + t) * 14 + y) * 14 + x];
            ASSERT_EQ(got, Code(patch_y[row] * 14 + y, patch_x[row] * 14 + x, c))
                << "row " << row << " c " << c << " t " << t << " y " << y << " x " << x;
          }
        }
      }
    }
  }
}

TEST(PreprocessGlm4vTest, ConstantImageNormalisesPerChannelInFloat32) {
  RgbImage image;
  image.width = 5;
  image.height = 3;
  for (int i = 0; i < 15; ++i) image.pixels.insert(image.pixels.end(), {0, 128, 255});
  Glm4vImageConfig config;
  config.image_size = 28;
  absl::StatusOr<Glm4vPixels> px = PreprocessGlm4v(image, config);
  ASSERT_TRUE(px.ok()) << px.status();
  EXPECT_EQ(px->size, 28);
  ASSERT_EQ(px->values.size(), 3u * 28 * 28);
  const float want[3] = {(0.0f / 255.0f - 0.48145466f) / 0.26862954f,
                         (128.0f / 255.0f - 0.4578275f) / 0.26130258f,
                         (255.0f / 255.0f - 0.40821073f) / 0.27577711f};
  for (int c = 0; c < 3; ++c) {
    EXPECT_EQ(px->values[c * 784], want[c]);
    EXPECT_EQ(px->values[c * 784 + 783], want[c]);
  }
}

TEST(VisionConfigTest, ParsesTheFixtureFiles) {
  const std::string models = std::string(GLMQ_SHARED_DIR) + "/fixtures/models";
  absl::StatusOr<Glm4vImageConfig> v4 = ReadGlm4vImageConfig(models + "/glm4v-tiny/config.json");
  ASSERT_TRUE(v4.ok()) << v4.status();
  EXPECT_EQ(v4->image_size, 112);
  EXPECT_EQ(v4->patch_size, 14);
  EXPECT_EQ(v4->mean, kOpenAiClipMean);
  absl::StatusOr<Glm41vImageConfig> v41 =
      ReadGlm41vImageConfig(models + "/glm41v-tiny/preprocessor_config.json");
  ASSERT_TRUE(v41.ok()) << v41.status();
  EXPECT_EQ(v41->min_pixels, 12544);
  EXPECT_EQ(v41->max_pixels, 37632);
  EXPECT_EQ(v41->patch_size, 14);
  EXPECT_EQ(v41->merge_size, 2);
  EXPECT_EQ(v41->temporal_patch_size, 2);
  EXPECT_EQ(v41->rescale_factor, 0.00392156862745098);
  EXPECT_EQ(v41->std, kOpenAiClipStd);
}

std::string ParseError41(const std::string& json) {
  return std::string(ParseGlm41vImageConfig(Json::parse(json), "pp.json").status().message());
}

TEST(VisionConfigTest, ErrorsNameTheFileAndField) {
  EXPECT_THAT(ParseGlm4vImageConfig(Json::parse("{}"), "c.json").status().message(),
              HasSubstr("c.json: field 'vision_config'"));
  EXPECT_THAT(
      ParseGlm4vImageConfig(Json::parse(R"({"vision_config": {"patch_size": 14}})"), "c.json")
          .status()
          .message(),
      HasSubstr("c.json: vision_config: field 'image_size' is missing"));
  EXPECT_THAT(ParseGlm4vImageConfig(
                  Json::parse(R"({"vision_config": {"image_size": 100, "patch_size": 14}})"), "c")
                  .status()
                  .message(),
              HasSubstr("not a multiple of patch_size"));
  EXPECT_THAT(ParseError41(R"({"size": {"shortest_edge": 10}})"),
              HasSubstr("pp.json: size: field 'longest_edge' is missing"));
  EXPECT_THAT(ParseError41(R"({"size": {"shortest_edge": 100, "longest_edge": 10}})"),
              HasSubstr("field 'longest_edge' must be in [100"));
  EXPECT_THAT(ParseError41(R"({"image_std": [1, 0, 1]})"), HasSubstr("field 'image_std'"));
  EXPECT_THAT(ParseError41(R"({"image_mean": [1, 2]})"), HasSubstr("field 'image_mean'"));
  EXPECT_THAT(ParseError41(R"({"patch_size": "14"})"), HasSubstr("field 'patch_size'"));
  EXPECT_THAT(ParseError41(R"({"do_resize": false})"),
              HasSubstr("field 'do_resize' = false is not supported"));
  EXPECT_THAT(ParseError41(R"({"resample": 2})"), HasSubstr("field 'resample' = 2"));
  EXPECT_THAT(ParseError41(R"({"image_processor_type": "Qwen2VLImageProcessor"})"),
              HasSubstr("field 'image_processor_type'"));
  EXPECT_THAT(std::string(ReadGlm41vImageConfig("/nonexistent/pp.json").status().message()),
              HasSubstr("/nonexistent/pp.json"));
}

}  // namespace
}  // namespace glmq::image
