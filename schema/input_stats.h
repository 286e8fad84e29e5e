// Calibration statistics of one linear layer's input, as gathered by
// runtime/calib (StatsCollector) and stored in the statistics file
// (format/stats_file.h); the calibrated quantizers (quant/calib/methods.h)
// consume them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace glmq {

struct InputStats {
  std::string weight;           // canonical weight consuming the input
  int layer = -1;               // -1 for output.weight
  int64_t cols = 0;
  int64_t count = 0;            // rows (tokens) seen
  std::vector<double> sum_x2;   // [cols]
  std::vector<double> sum_abs;  // [cols]
  std::vector<double> xtx;      // [cols, cols] sum x x^T (symmetric) or empty
  std::vector<float> samples;   // [n_samples, cols] uniform sample of rows
  int64_t n_samples() const { return cols > 0 ? static_cast<int64_t>(samples.size()) / cols : 0; }
};

}  // namespace glmq
