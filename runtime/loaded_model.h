// A .glmq opened for inference: the model (weights mapped from the file)
// and its embedded tokenizer. What `glmq eval` and `glmq generate` load.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "runtime/device.h"
#include "runtime/model.h"
#include "runtime/tokenizer/tokenizer.h"

namespace glmq {

struct LoadedModel {
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;
  const GlmqFile* file = nullptr;  // owned by model's weight source
};

// Most threads a command may ask for (-t): far above any machine glmq runs
// on, low enough that per-thread buffers stay small.
inline constexpr int kMaxThreads = 1024;

// InvalidArgument naming `flag` unless 0 <= n <= kMaxThreads (0: OpenMP's
// default, all cores).
absl::Status CheckThreadCount(int n, absl::string_view flag = "-t");

// n_threads 0: OpenMP's default. `tokenizer` (optional): a tokenizer to
// use instead of the embedded one (runtime/tokenizer_source.h: folder,
// tokenizer.model / .json, or .glmq); the model's eos ids still apply and
// its ids must fit the embedding. `device`: where the model runs (a CUDA
// backend uploads the weights while loading). With `verify` (the default)
// the checksums of every tensor the model uses are recomputed first
// (GlmqFile::VerifyTensorChecksums; about one read of the weights, which
// inference needs in memory anyway; --no-verify skips it), so a corrupted
// file is an error naming the tensor instead of NaN perplexity or garbage
// text.
absl::StatusOr<LoadedModel> LoadGlmqModel(const std::string& path, int n_threads = 0,
                                          const std::string& tokenizer = "",
                                          const DeviceSpec& device = DeviceSpec{},
                                          bool verify = true);

}  // namespace glmq
