// The vision towers of the two fixture models against the reference: every
// stage of img1's vision_trace.npz and the final vision_embeds.npy (float32
// reference on the bf16 weights), then bf16 vs q8 linear weights.
#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "core/status.h"
#include "gtest/gtest.h"
#include "quant/dequantize.h"
#include "quant/quantize.h"
#include "runtime/cpu/cpu_backend.h"
#include "runtime/vision/test_util.h"
#include "runtime/vision/vision_tower.h"

namespace glmq {
namespace {

using vision_test::FixtureTower;
using vision_test::NpyArray;

const std::string kRef = std::string(GLMQ_SHARED_DIR) + "/fixtures/reference/";
const std::string kModels = std::string(GLMQ_SHARED_DIR) + "/fixtures/models/";

struct Case {
  const char* model;
};
const Case kGlm4v = {"glm4v-tiny"};
const Case kGlm41v = {"glm41v-tiny"};
constexpr char kConv[] = "v.downsample.weight";  // the merge convolution's weight

FixtureTower LoadOrDie(const Case& c) {
  absl::StatusOr<FixtureTower> t = vision_test::LoadFixtureTower(kModels + c.model);
  EXPECT_TRUE(t.ok()) << t.status();
  return std::move(t).value();
}

NpyArray Npy(const std::string& name) {
  absl::StatusOr<NpyArray> a = vision_test::ReadNpyF32(kRef + name);
  EXPECT_TRUE(a.ok()) << a.status();
  return a.ok() ? *a : NpyArray{};
}

// Runs img1 through the tower; stages are collected into *stages.
absl::StatusOr<std::vector<float>> RunImg1(const Case& c, const WeightSource& source,
                                           const VisionConfig& config, Backend* be,
                                           std::map<std::string, std::vector<float>>* stages) {
  GLMQ_ASSIGN_OR_RETURN(auto tower, VisionTower::Load(source, config, be));
  const NpyArray pixels = Npy(std::string(c.model) + ".img1.pixel_values.npy");
  auto trace = [&](absl::string_view stage, const float* d, int64_t rows, int64_t cols) {
    if (stages) (*stages)[std::string(stage)].assign(d, d + rows * cols);
  };
  if (config.layout == pb::LAYOUT_CHATGLM_VISION) {
    const int64_t h = pixels.shape.at(2), w = pixels.shape.at(3);
    return tower->EncodeImage(pixels.data, h, w, trace);
  }
  return tower->EncodePatches(pixels.data, PatchGrid{1, 6, 8}, trace);  // grid_thw [1, 6, 8]
}

void ExpectMatchesReference(const Case& c) {
  FixtureTower t = LoadOrDie(c);
  CpuBackend be(2);
  std::map<std::string, std::vector<float>> stages;
  absl::StatusOr<std::vector<float>> out = RunImg1(c, *t.source, t.config, &be, &stages);
  ASSERT_TRUE(out.ok()) << out.status();
  absl::StatusOr<std::map<std::string, NpyArray>> trace =
      vision_test::ReadNpzF32(kRef + c.model + ".img1.vision_trace.npz");
  ASSERT_TRUE(trace.ok()) << trace.status();
  for (const auto& [stage, ref] : *trace) {
    ASSERT_TRUE(stages.count(stage)) << "the tower emitted no stage '" << stage << "'";
    double absmax = 0;
    for (float v : ref.data) absmax = std::max(absmax, std::fabs(static_cast<double>(v)));
    const double diff = vision_test::MaxAbsDiff(stages[stage], ref.data.data(),
                                                static_cast<int64_t>(ref.data.size()));
    // Relative to the stage's magnitude (up to ~9 inside the ViT).
    EXPECT_LE(diff, 1e-5 * std::max(1.0, absmax)) << c.model << " stage " << stage;
    std::printf("%s %-24s max|diff| %.3g (absmax %.3g)\n", c.model, stage.c_str(), diff, absmax);
  }
  const NpyArray embeds = Npy(std::string(c.model) + ".img1.vision_embeds.npy");
  const double diff =
      vision_test::MaxAbsDiff(*out, embeds.data.data(), static_cast<int64_t>(embeds.data.size()));
  EXPECT_LE(diff, 1e-4) << c.model;
  std::printf("%s vision_embeds %zu values, max|diff| %.3g\n", c.model, embeds.data.size(), diff);
}

TEST(VisionGolden, Glm4vTinyMatchesReferenceTrace) { ExpectMatchesReference(kGlm4v); }
TEST(VisionGolden, Glm41vTinyMatchesReferenceTrace) { ExpectMatchesReference(kGlm41v); }

// Re-stores every matrix the tower multiplies (linear layers and the
// convolutions, flattened to [out, in]) as q8 with groups of 32, or, with
// `dequantized`, as the f32 values those q8 bytes decode to.
void QuantizeMatrices(bool dequantized, InMemoryWeightSource* source) {
  const std::vector<VisionTensor> tensors = VisionTensors(source->hparams()).value();
  for (const VisionTensor& vt : tensors) {
    if (vt.use != VisionUse::kMatrix) continue;
    const std::string& name = vt.tensor.name;
    const WeightView t = source->Find(name).value();
    const int64_t rows = t.shape[0], cols = static_cast<int64_t>(t.size / 2) / rows;  // bf16
    std::vector<float> w(rows * cols);
    ConvertToF32(DType::kBF16, t.data, w.data(), rows * cols);
    const QuantSpec q8{pb::ENCODING_Q8_SYM, 32};
    std::string bytes(QuantizedBytes(q8, rows, cols).value(), '\0');
    ASSERT_TRUE(QuantizeMatrix(w.data(), rows, cols, q8, nullptr,
                               reinterpret_cast<uint8_t*>(bytes.data()), nullptr)
                    .ok());
    if (!dequantized) {
      source->AddEncoded(name, pb::ENCODING_Q8_SYM, 32, {rows, cols}, std::move(bytes));
      continue;
    }
    const absl::Span<const uint8_t> q(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    ASSERT_TRUE(DequantizeRows(pb::ENCODING_Q8_SYM, 32, rows, cols, q, 0, rows, w.data()).ok());
    source->AddF32(name, {rows, cols}, w);
  }
}

double RelativeRms(const std::vector<float>& a, const std::vector<float>& ref) {
  double err = 0, sum = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    err += (a[i] - ref[i]) * static_cast<double>(a[i] - ref[i]);
    sum += ref[i] * static_cast<double>(ref[i]);
  }
  return std::sqrt(err / sum);
}

// The q8 kernels (int8 weights x int8-quantized activations) against the
// bf16 weights and against the same q8 weights decoded to f32.
void ExpectQ8Close(const Case& c) {
  FixtureTower t = LoadOrDie(c), deq = LoadOrDie(c);
  CpuBackend be(2);
  absl::StatusOr<std::vector<float>> bf16 = RunImg1(c, *t.source, t.config, &be, nullptr);
  ASSERT_TRUE(bf16.ok()) << bf16.status();
  QuantizeMatrices(false, t.source.get());
  QuantizeMatrices(true, deq.source.get());
  ASSERT_EQ(t.source->Find(kConv)->encoding, pb::ENCODING_Q8_SYM);
  absl::StatusOr<std::vector<float>> q8 = RunImg1(c, *t.source, t.config, &be, nullptr);
  ASSERT_TRUE(q8.ok()) << q8.status();
  absl::StatusOr<std::vector<float>> f32 = RunImg1(c, *deq.source, deq.config, &be, nullptr);
  ASSERT_TRUE(f32.ok()) << f32.status();
  const double vs_bf16 = RelativeRms(*q8, *bf16), vs_f32 = RelativeRms(*q8, *f32);
  std::printf("%s q8-g32: relative RMS difference %.3g vs bf16, %.3g vs its own weights in f32\n",
              c.model, vs_bf16, vs_f32);
  // q8-g32 weights are off by ~0.5% RMS (absmax / 127 steps on groups of 32);
  // about ten products in a row compound that to a few percent.
  EXPECT_GT(vs_bf16, 0.0);
  EXPECT_LT(vs_bf16, 0.05);
  EXPECT_LT(vs_f32, 0.03);  // what the int8 activations add
}

TEST(VisionGolden, Glm4vTinyQ8StaysCloseToBf16) { ExpectQ8Close(kGlm4v); }
TEST(VisionGolden, Glm41vTinyQ8StaysCloseToBf16) { ExpectQ8Close(kGlm41v); }

}  // namespace
}  // namespace glmq
