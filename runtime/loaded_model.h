// A .glmq opened for inference: the model (weights mapped from the file)
// and its embedded tokenizer. What `glmq eval` and `glmq generate` load.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "runtime/model.h"
#include "runtime/tokenizer/tokenizer.h"

namespace glmq {

struct LoadedModel {
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;
  const GlmqFile* file = nullptr;  // owned by model's weight source
};

// The tokenizer embedded in a .glmq (its files, special tokens and eos ids,
// and the model's eos ids). Errors name the file.
absl::StatusOr<std::unique_ptr<Tokenizer>> EmbeddedTokenizer(const GlmqFile& file);

// n_threads <= 0: OpenMP's default.
absl::StatusOr<LoadedModel> LoadGlmqModel(const std::string& path, int n_threads = 0);

}  // namespace glmq
