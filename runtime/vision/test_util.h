// Test-only helpers for the vision tower tests: float32 .npy arrays, .npz
// archives (numpy's uncompressed "stored" zip of .npy members), and the
// fixture checkpoints' vision tensors as an InMemoryWeightSource.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/vision/vision_config.h"
#include "runtime/weights.h"

namespace glmq::vision_test {

struct NpyArray {
  std::vector<int64_t> shape;
  std::vector<float> data;  // C order
};

// A little-endian float32 C-order .npy (version 1-3) held in `bytes`; `where`
// names it in errors.
absl::StatusOr<NpyArray> ParseNpyF32(const std::string& bytes, const std::string& where);
absl::StatusOr<NpyArray> ReadNpyF32(const std::string& path);
// Every member of an .npz (stored, not deflated) by name without ".npy".
absl::StatusOr<std::map<std::string, NpyArray>> ReadNpzF32(const std::string& path);

// A fixture model's vision tower: its checkpoint's hparams and every tensor
// under `prefix` ("transformer.vision." / "model.visual.") as stored (bf16),
// under its Hugging Face name, and the VisionConfig from the hparams with
// config.json's vision_config values the hparams do not carry
// (num_positions, scaling_factor, layer_norm_eps / rms_norm_eps,
// attention_bias).
struct FixtureTower {
  std::unique_ptr<InMemoryWeightSource> source;
  VisionConfig config;
};
absl::StatusOr<FixtureTower> LoadFixtureTower(const std::string& model_dir,
                                              const std::string& prefix);

// max |a - b| (infinity if the sizes differ).
double MaxAbsDiff(const std::vector<float>& a, const float* b, int64_t n);

}  // namespace glmq::vision_test
