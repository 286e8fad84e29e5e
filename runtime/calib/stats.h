// Calibration statistics of linear-layer inputs, gathered by an
// ActivationObserver during forward passes over calibration text:
// per input channel sum x^2 (imatrix) and sum |x| (AWQ), optionally the
// second-moment sum X^T X (GPTQ's Hessian, AWQ's loss) and a bounded
// uniform sample of rows. Memory: 2 cols f64 per input, + cols^2 f64 with
// X^T X, + max_samples * cols f32. Not thread-safe (one forward at a time).
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "schema/glmq.pb.h"
#include "schema/input_stats.h"
#include "runtime/observer.h"

namespace glmq {


struct StatsOptions {
  bool collect_xtx = true;   // GPTQ (and exact AWQ loss); cols^2 f64 per input
  int64_t max_samples = 512; // reservoir rows per input; 0 = none
  uint64_t seed = 1;
  // Only layers in [first_layer, end_layer) are recorded (-1 = output.weight
  // is recorded when include_output). Lets a big model be calibrated in
  // several passes of a few layers each, bounding memory.
  int first_layer = 0;
  int end_layer = 1 << 30;
  bool include_output = true;
};

class StatsCollector : public ActivationObserver {
 public:
  explicit StatsCollector(StatsOptions options) : options_(options) {}
  void Observe(int layer, LinearInput which, const float* x, int64_t n_tokens,
               int64_t cols) override;
  // Completes X^T X (accumulated as the upper triangle) and hands over the
  // statistics, ordered by layer then forward order.
  std::vector<InputStats> Finish();

 private:
  struct Entry {
    InputStats stats;
    // Its own generator, seeded from (seed, layer, kind): the sample does not
    // depend on which other inputs a pass records (--layers-per-pass).
    std::mt19937_64 rng;
  };
  void Reservoir(Entry& e, const float* x, int64_t n_tokens);
  StatsOptions options_;
  std::map<std::pair<int, int>, Entry> entries_;  // (layer or 1<<30 for output, kind)
};

// Bytes a StatsCollector holds for one layer of this model while recording
// it: per linear input, Σx² and Σ|x| (f64), X^T X (f64, cols², if
// collect_xtx) and the sample (f32, max_samples rows).
uint64_t LayerStatsBytes(const pb::HParams& hp, const StatsOptions& options);

// Adds X^T X of x [n, cols] to the upper triangle of acc [cols, cols].
void AccumulateXtxUpper(const float* x, int64_t n, int64_t cols, std::vector<double>* acc);

}  // namespace glmq
