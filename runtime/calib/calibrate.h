// glmq calibrate: runs calibration text through a model and records, for
// every linear layer's input, the statistics the calibrated quantizers need
// (runtime/calib/stats.h: imatrix, AWQ and GPTQ) into a statistics file
// (format/stats_file.h). Big models are recorded in passes of a few layers
// each, resuming every window from the residual stream where the previous
// pass left it (Session::ForwardLayers), so memory holds about one pass's
// statistics and weights. specs/calibration.md.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace glmq {

struct CalibrateOptions {
  std::string model;   // .glmq (bf16/f32 weights)
  std::string text;    // UTF-8 calibration text
  std::string output;  // statistics file
  int64_t windows = 256;  // windows of ctx tokens spread over the text; 0 = all
  int64_t ctx = 256;      // tokens per window
  int64_t samples = 512;  // activation rows kept per input for AWQ (0 = none)
  bool no_xtx = false;    // skip X^T X (GPTQ)
  int layers_per_pass = 0;  // 0 = as many as keep a pass's statistics within 4 GiB
  std::string layers;       // "FIRST:END": record only these layers (benchmarks)
  std::string tokenizer;    // instead of the file's (runtime/tokenizer_source.h)
  uint64_t seed = 1;        // of the activation sample
  int threads = 0;          // CPU threads; 0 = OpenMP's default (all)
  std::string command_line;  // for the file's metadata
};

struct CalibrateSummary {
  int n_inputs = 0;
  int64_t windows = 0;
  int passes = 0;
  int layers_per_pass = 0;
  double seconds = 0;
};

absl::StatusOr<CalibrateSummary> Calibrate(const CalibrateOptions& options);

}  // namespace glmq
