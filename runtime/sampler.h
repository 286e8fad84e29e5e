// Picks the next token from a row of logits: greedy at temperature <= 0
// (the lowest id wins ties), else a draw from softmax(logits / temperature),
// optionally restricted to the smallest set of top tokens whose
// probability reaches top_p. Deterministic for a given seed.
#pragma once

#include <cstdint>
#include <random>

#include "absl/types/span.h"

namespace glmq {

struct SamplerOptions {
  double temperature = 0;  // <= 0: greedy
  double top_p = 1;        // 1: no nucleus cut
  uint64_t seed = 0;
};

class Sampler {
 public:
  // Only ids < vocab are drawn (the embedding's padding rows are untrained).
  Sampler(const SamplerOptions& options, int64_t vocab);
  int32_t Pick(absl::Span<const float> logits);

 private:
  SamplerOptions options_;
  int64_t vocab_;
  std::mt19937_64 rng_;
};

}  // namespace glmq
