// A .glmq opened for inference: the model (weights mapped from the file)
// and its embedded tokenizer. What `glmq eval` and `glmq generate` load.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "runtime/device.h"
#include "runtime/model.h"
#include "runtime/tokenizer/tokenizer.h"

namespace glmq {

struct LoadedModel {
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;
  const GlmqFile* file = nullptr;  // owned by model's weight source
};

// n_threads <= 0: OpenMP's default. `tokenizer` (optional): a tokenizer to
// use instead of the embedded one (runtime/tokenizer_source.h: folder,
// tokenizer.model / .json, or .glmq); the model's eos ids still apply and
// its ids must fit the embedding. `device`: where the model runs (a CUDA
// backend uploads the weights while loading).
absl::StatusOr<LoadedModel> LoadGlmqModel(const std::string& path, int n_threads = 0,
                                          const std::string& tokenizer = "",
                                          const DeviceSpec& device = DeviceSpec{});

}  // namespace glmq
