// Test-only helpers for the vision tower tests: float32 .npy arrays, .npz
// archives (numpy's uncompressed "stored" zip of .npy members), and the
// fixture checkpoints' vision tensors as an InMemoryWeightSource.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/vision/npy_f32.h"
#include "runtime/vision/vision_config.h"
#include "runtime/weights.h"

namespace glmq::vision_test {

using NpyArray = NpyF32;
using ::glmq::ParseNpyF32;
using ::glmq::ReadNpyF32;

// Every member of an .npz (stored, not deflated) by name without ".npy".
absl::StatusOr<std::map<std::string, NpyArray>> ReadNpzF32(const std::string& path);

// A fixture model's vision tower: its checkpoint's hparams (after `edit`,
// if given) and every vision tensor as stored (bf16) under its canonical
// name and shape (convert's mapping, convert/layout.h), and the
// VisionConfig of those hparams.
struct FixtureTower {
  std::unique_ptr<InMemoryWeightSource> source;
  VisionConfig config;
};
absl::StatusOr<FixtureTower> LoadFixtureTower(
    const std::string& model_dir, const std::function<void(pb::HParams*)>& edit = nullptr);

// max |a - b| (infinity if the sizes differ).
double MaxAbsDiff(const std::vector<float>& a, const float* b, int64_t n);

}  // namespace glmq::vision_test
