// Decode and pre-processing time of a 1120 x 1120 JPEG (glm-4v-9b's input
// size), and the resampler on a photo-sized image.
//   build/bench/image_benchmark
#include <vector>

#include "benchmark/benchmark.h"
#include "image/image.h"
#include "image/preprocess.h"
#include "image/resample.h"
#include "image/test_images.h"

namespace glmq::image {
namespace {

// A smooth gradient with a little texture, as JPEG (quality 90, 4:2:0).
std::vector<uint8_t> PhotoJpeg(int width, int height) {
  std::vector<uint8_t> rgb;
  rgb.reserve(static_cast<size_t>(width) * height * 3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const int texture = (x * 7 + y * 13) % 17;
      rgb.push_back(static_cast<uint8_t>((x * 255 / width + texture) % 256));
      rgb.push_back(static_cast<uint8_t>((y * 255 / height + texture) % 256));
      rgb.push_back(static_cast<uint8_t>(((x + y) * 127 / (width + height) + 64) % 256));
    }
  }
  return testing::EncodeJpeg(width, height, testing::JpegColor::kYCbCr, rgb, 90);
}

const std::vector<uint8_t>& Jpeg1120() {
  static const std::vector<uint8_t> jpeg = PhotoJpeg(1120, 1120);
  return jpeg;
}

void BM_DecodeJpeg1120(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(DecodeImage(Jpeg1120(), "bench.jpg"));
}
BENCHMARK(BM_DecodeJpeg1120)->Unit(benchmark::kMillisecond);

// Decode + glm-4v pre-processing (1120 -> 1120: normalisation only).
void BM_DecodePreprocessGlm4v1120(benchmark::State& state) {
  const Glm4vImageConfig config;  // image_size 1120
  for (auto _ : state) {
    absl::StatusOr<RgbImage> image = DecodeImage(Jpeg1120(), "bench.jpg");
    benchmark::DoNotOptimize(PreprocessGlm4v(*image, config));
  }
}
BENCHMARK(BM_DecodePreprocessGlm4v1120)->Unit(benchmark::kMillisecond);

// Decode + GLM-4.1V pre-processing with the real processor's defaults
// (1120 x 1120 stays 1120 x 1120: 6400 patch rows of 1176 floats).
void BM_DecodePreprocessGlm41v1120(benchmark::State& state) {
  const Glm41vImageConfig config;
  for (auto _ : state) {
    absl::StatusOr<RgbImage> image = DecodeImage(Jpeg1120(), "bench.jpg");
    benchmark::DoNotOptimize(PreprocessGlm41v(*image, config));
  }
}
BENCHMARK(BM_DecodePreprocessGlm41v1120)->Unit(benchmark::kMillisecond);

// The resampler: a 4:3 12-megapixel photo to glm-4v's 1120 x 1120.
void BM_Resize4000x3000To1120(benchmark::State& state) {
  static const RgbImage photo = *DecodeImage(PhotoJpeg(4000, 3000), "photo.jpg");
  for (auto _ : state) benchmark::DoNotOptimize(ResizeBicubic(photo, 1120, 1120));
}
BENCHMARK(BM_Resize4000x3000To1120)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace glmq::image

BENCHMARK_MAIN();
