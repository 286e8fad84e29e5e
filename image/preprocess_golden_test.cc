// The pixel tensors of the two vision fixtures, from their PNGs, against the
// reference pre-processing (../shared/fixtures/reference): expected bit-exact.
#include <cmath>
#include <string>
#include <vector>

#include "core/json.h"
#include "gtest/gtest.h"
#include "image/image.h"
#include "image/preprocess.h"
#include "image/vision_config.h"
#include "tests/runtime_test_util.h"

namespace glmq::image {
namespace {

const std::string kFixtures = std::string(GLMQ_SHARED_DIR) + "/fixtures";
const std::string kReference = kFixtures + "/reference";

// Max |a - b| over equal-sized arrays, and how many differ at all.
struct Diff {
  double max_abs = 0;
  size_t n_different = 0;
};
Diff Compare(const std::vector<float>& got, const std::vector<float>& want) {
  Diff d;
  for (size_t i = 0; i < got.size() && i < want.size(); ++i) {
    d.max_abs = std::max(d.max_abs, std::fabs(static_cast<double>(got[i]) - want[i]));
    d.n_different += got[i] != want[i];
  }
  return d;
}

Json CaseManifest(const std::string& model) {
  absl::StatusOr<Json> manifest = ReadJsonFile(kReference + "/reference_vision.json");
  EXPECT_TRUE(manifest.ok()) << manifest.status();
  return manifest.ok() ? (*manifest)["models"][model]["cases"]["img1"] : Json();
}

TEST(ImageGoldenTest, Glm4vPixelValues) {
  const Json c = CaseManifest("glm4v-tiny");
  absl::StatusOr<Glm4vImageConfig> config =
      ReadGlm4vImageConfig(kFixtures + "/models/glm4v-tiny/config.json");
  ASSERT_TRUE(config.ok()) << config.status();
  absl::StatusOr<RgbImage> image = ReadImageFile(kReference + "/glm4v-tiny.img1.png");
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(image->height, c["image_hw"][0].get<int>());
  EXPECT_EQ(image->width, c["image_hw"][1].get<int>());

  absl::StatusOr<Glm4vPixels> pixels = PreprocessGlm4v(*image, *config);
  ASSERT_TRUE(pixels.ok()) << pixels.status();
  // [1, 3, S, S] in the reference.
  EXPECT_EQ(std::vector<int64_t>({1, 3, pixels->size, pixels->size}),
            c["pixel_values_shape"].get<std::vector<int64_t>>());

  auto npy = testing_util::ReadNpy(kReference + "/glm4v-tiny.img1.pixel_values.npy");
  ASSERT_TRUE(npy.ok()) << npy.status();
  ASSERT_EQ(npy->descr, "<f4");
  ASSERT_EQ(npy->shape, std::vector<int64_t>({1, 3, 112, 112}));
  const std::vector<float> want = testing_util::NpyValues<float>(*npy);
  ASSERT_EQ(pixels->values.size(), want.size());
  const Diff d = Compare(pixels->values, want);
  EXPECT_LE(d.max_abs, 1e-6);
  EXPECT_EQ(d.n_different, 0u) << "max |diff| " << d.max_abs;
}

TEST(ImageGoldenTest, Glm41vPixelValuesAndGrid) {
  const Json c = CaseManifest("glm41v-tiny");
  absl::StatusOr<Glm41vImageConfig> config =
      ReadGlm41vImageConfig(kFixtures + "/models/glm41v-tiny/preprocessor_config.json");
  ASSERT_TRUE(config.ok()) << config.status();
  absl::StatusOr<RgbImage> image = ReadImageFile(kReference + "/glm41v-tiny.img1.png");
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(image->height, c["image_hw"][0].get<int>());
  EXPECT_EQ(image->width, c["image_hw"][1].get<int>());

  absl::StatusOr<Glm41vPixels> pixels = PreprocessGlm41v(*image, *config);
  ASSERT_TRUE(pixels.ok()) << pixels.status();
  EXPECT_EQ(pixels->resized_height, c["resized_hw"][0].get<int64_t>());
  EXPECT_EQ(pixels->resized_width, c["resized_hw"][1].get<int64_t>());
  EXPECT_EQ(std::vector<int64_t>({pixels->grid_t, pixels->grid_h, pixels->grid_w}),
            c["grid_thw"].get<std::vector<int64_t>>());
  EXPECT_EQ(pixels->grid_h * pixels->grid_w / 4, c["n_image_tokens"].get<int64_t>());

  auto npy = testing_util::ReadNpy(kReference + "/glm41v-tiny.img1.pixel_values.npy");
  ASSERT_TRUE(npy.ok()) << npy.status();
  ASSERT_EQ(npy->descr, "<f4");
  ASSERT_EQ(npy->shape, std::vector<int64_t>({48, 1176}));
  EXPECT_EQ(pixels->row_size, 1176);
  const std::vector<float> want = testing_util::NpyValues<float>(*npy);
  ASSERT_EQ(pixels->patches.size(), want.size());
  const Diff d = Compare(pixels->patches, want);
  EXPECT_LE(d.max_abs, 1e-6);
  EXPECT_EQ(d.n_different, 0u) << "max |diff| " << d.max_abs;
}

}  // namespace
}  // namespace glmq::image
