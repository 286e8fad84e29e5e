#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace glmq {

Sampler::Sampler(const SamplerOptions& options, int64_t vocab)
    : options_(options), vocab_(vocab), rng_(options.seed) {}

int32_t Sampler::Pick(absl::Span<const float> logits) {
  const int64_t n = std::min<int64_t>(vocab_, static_cast<int64_t>(logits.size()));
  int32_t best = 0;
  for (int64_t i = 1; i < n; ++i) {
    if (logits[i] > logits[best]) best = static_cast<int32_t>(i);
  }
  if (options_.temperature <= 0) return best;
  std::vector<double> p(n);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    sum += (p[i] = std::exp((logits[i] - logits[best]) / options_.temperature));
  }
  std::vector<int32_t> ids(n);
  std::iota(ids.begin(), ids.end(), 0);
  int64_t keep = n;
  if (options_.top_p < 1) {
    std::sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) { return p[a] > p[b]; });
    double mass = 0;
    for (keep = 0; keep < n && mass < options_.top_p * sum;) mass += p[ids[keep++]];
    sum = mass;
  }
  std::uniform_real_distribution<double> u(0, sum);
  double r = u(rng_);
  for (int64_t k = 0; k < keep; ++k) {
    if ((r -= p[ids[k]]) <= 0) return ids[k];
  }
  return ids[std::max<int64_t>(keep, 1) - 1];
}

}  // namespace glmq
