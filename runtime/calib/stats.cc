#include "runtime/calib/stats.h"

#include <algorithm>
#include <cmath>

#include "quant/gemm.h"

namespace glmq {

void AccumulateXtxUpper(const float* x, int64_t n, int64_t cols, std::vector<double>* acc) {
  // Tokens in blocks of 64 summed in f32 (short sums, then f64 across
  // blocks: f32 rounding stays ~1e-6 relative). Each block's sums are one
  // f32 GEMM, x_b^T x_b, by row tiles of 64 channels (in parallel), each
  // over its columns from the tile's first channel on (the upper triangle
  // plus the tile's diagonal block).
  constexpr int64_t kBlock = 64, kRows = 64;
  double* a = acc->data();
  std::vector<float> xt(static_cast<size_t>(cols * kBlock));  // [cols, kb]
  const int64_t n_tiles = (cols + kRows - 1) / kRows;
  for (int64_t t0 = 0; t0 < n; t0 += kBlock) {
    const int64_t kb = std::min(kBlock, n - t0);
    for (int64_t t = 0; t < kb; ++t)
      for (int64_t c = 0; c < cols; ++c) xt[c * kb + t] = x[(t0 + t) * cols + c];
#pragma omp parallel
    {
      std::vector<float> tmp;
#pragma omp for schedule(dynamic)
      for (int64_t tile = 0; tile < n_tiles; ++tile) {
        const int64_t i0 = tile * kRows, mb = std::min(kRows, cols - i0), w = cols - i0;
        tmp.assign(static_cast<size_t>(mb * w), 0.f);
        // tmp = -x_b[:, i0:i0+mb]^T x_b[:, i0:]
        gemm::SubMatMul(mb, w, kb, xt.data() + i0 * kb, kb, x + t0 * cols + i0, cols, tmp.data(),
                         w);
        for (int64_t i = 0; i < mb; ++i) {
          double* ai = a + (i0 + i) * cols + i0;
          const float* ti = tmp.data() + i * w;
          for (int64_t j = i; j < w; ++j) ai[j] -= ti[j];
        }
      }
    }
  }
}

uint64_t LayerStatsBytes(const pb::HParams& hp, const StatsOptions& options) {
  uint64_t bytes = 0;
  for (LinearInput which : {LinearInput::kAttnQkv, LinearInput::kAttnOutput,
                            LinearInput::kFfnGateUp, LinearInput::kFfnDown}) {
    const uint64_t c = static_cast<uint64_t>(LinearInputCols(hp, which));
    bytes += c * (16 + (options.collect_xtx ? 8 * c : 0) +
                  4 * static_cast<uint64_t>(std::max<int64_t>(0, options.max_samples)));
  }
  return bytes;
}

void StatsCollector::Reservoir(Entry& e, const float* x, int64_t n_tokens) {
  InputStats& s = e.stats;
  const int64_t cap = options_.max_samples, cols = s.cols;
  for (int64_t t = 0; t < n_tokens; ++t) {
    const int64_t seen = s.count + t;  // rows before this one
    if (seen < cap) {
      s.samples.insert(s.samples.end(), x + t * cols, x + (t + 1) * cols);
      continue;
    }
    std::uniform_int_distribution<int64_t> pick(0, seen);
    const int64_t slot = pick(e.rng);
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
    std::seed_seq seq{static_cast<uint32_t>(options_.seed),
                      static_cast<uint32_t>(options_.seed >> 32), static_cast<uint32_t>(key_layer),
                      static_cast<uint32_t>(which)};
    e.rng.seed(seq);
  }
  for (int64_t t = 0; t < n_tokens; ++t) {
    const float* xt = x + t * cols;
    for (int64_t j = 0; j < cols; ++j) {
      s.sum_x2[j] += static_cast<double>(xt[j]) * xt[j];
      s.sum_abs[j] += std::fabs(xt[j]);
    }
  }
  if (options_.collect_xtx) AccumulateXtxUpper(x, n_tokens, cols, &s.xtx);
  if (options_.max_samples > 0) Reservoir(e, x, n_tokens);
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
