#include "runtime/calib/stats.h"

#include <cmath>

namespace glmq {

void AccumulateXtxUpper(const float* x, int64_t n, int64_t cols, std::vector<double>* acc) {
  // Tokens in blocks of 64 summed in f32 (short sums, then f64 across
  // blocks: f32 rounding stays ~1e-6 relative), rows of the triangle in
  // parallel.
  constexpr int64_t kBlock = 64;
  double* a = acc->data();
#pragma omp parallel
  {
    std::vector<float> row(cols);
#pragma omp for schedule(dynamic, 8)
    for (int64_t i = 0; i < cols; ++i) {
      for (int64_t t0 = 0; t0 < n; t0 += kBlock) {
        const int64_t t1 = std::min(n, t0 + kBlock);
        std::fill(row.begin() + i, row.end(), 0.f);
        for (int64_t t = t0; t < t1; ++t) {
          const float* xt = x + t * cols;
          const float xi = xt[i];
          if (xi == 0.f) continue;
          for (int64_t j = i; j < cols; ++j) row[j] += xi * xt[j];
        }
        double* ai = a + i * cols;
        for (int64_t j = i; j < cols; ++j) ai[j] += row[j];
      }
    }
  }
}

void StatsCollector::Reservoir(InputStats& s, const float* x, int64_t n_tokens) {
  const int64_t cap = options_.max_samples, cols = s.cols;
  for (int64_t t = 0; t < n_tokens; ++t) {
    const int64_t seen = s.count + t;  // rows before this one
    if (seen < cap) {
      s.samples.insert(s.samples.end(), x + t * cols, x + (t + 1) * cols);
      continue;
    }
    std::uniform_int_distribution<int64_t> pick(0, seen);
    const int64_t slot = pick(rng_);
    if (slot < cap) std::copy(x + t * cols, x + (t + 1) * cols, s.samples.begin() + slot * cols);
  }
}

void StatsCollector::Observe(int layer, LinearInput which, const float* x, int64_t n_tokens,
                             int64_t cols) {
  if (which == LinearInput::kOutput) {
    if (!options_.include_output) return;
  } else if (layer < options_.first_layer || layer >= options_.end_layer) {
    return;
  }
  const int key_layer = which == LinearInput::kOutput ? (1 << 30) : layer;
  Entry& e = entries_[{key_layer, static_cast<int>(which)}];
  InputStats& s = e.stats;
  if (s.cols == 0) {
    s.weight = LinearWeightName(layer, which);
    s.layer = which == LinearInput::kOutput ? -1 : layer;
    s.cols = cols;
    s.sum_x2.assign(cols, 0.0);
    s.sum_abs.assign(cols, 0.0);
    if (options_.collect_xtx) s.xtx.assign(cols * cols, 0.0);
  }
  for (int64_t t = 0; t < n_tokens; ++t) {
    const float* xt = x + t * cols;
    for (int64_t j = 0; j < cols; ++j) {
      s.sum_x2[j] += static_cast<double>(xt[j]) * xt[j];
      s.sum_abs[j] += std::fabs(xt[j]);
    }
  }
  if (options_.collect_xtx) AccumulateXtxUpper(x, n_tokens, cols, &s.xtx);
  if (options_.max_samples > 0) Reservoir(s, x, n_tokens);
  s.count += n_tokens;
}

std::vector<InputStats> StatsCollector::Finish() {
  std::vector<InputStats> out;
  for (auto& [key, e] : entries_) {
    InputStats& s = e.stats;
    for (int64_t i = 0; i < s.cols && !s.xtx.empty(); ++i)
      for (int64_t j = 0; j < i; ++j) s.xtx[i * s.cols + j] = s.xtx[j * s.cols + i];
    out.push_back(std::move(s));
  }
  entries_.clear();
  return out;
}

}  // namespace glmq
