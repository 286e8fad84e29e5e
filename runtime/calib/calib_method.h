// Builds the QuantMethod for `glmq quantize --method imatrix|awq|gptq
// --calib stats.bin`: opens the statistics file, hands its records to the
// quant/calib methods and records the run in QuantRecipe.calibration.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "schema/glmq.pb.h"
#include "quant/calib/methods.h"

namespace glmq {

struct CalibMethodOptions {
  std::string method;      // imatrix | awq | gptq | awq+gptq
  std::string stats_path;  // glmq calibrate output
  int search_grid = -1;    // imatrix: QuantSpec.search_grid override
  bool imatrix_magnitude = true;  // imatrix: llama.cpp's sqrt(sigma2 + w^2) factor
  // imatrix, gptq: first fold per-channel scales searched on E[x^2] into the
  // neighbouring tensors where they pay (outlier channels; calib::
  // ImatrixPlanOptions); false: textbook imatrix / GPTQ.
  bool equalize = true;
  calib::GptqOptions gptq;
  calib::AwqOptions awq;
};

// `weights` is only used by AWQ (its scale search runs here, block by
// block, before the method is returned); `spec` tells which tensors will be
// quantized and how. Errors: unknown method, unreadable statistics,
// statistics that lack what the method needs.
absl::StatusOr<std::unique_ptr<QuantMethod>> MakeCalibratedMethod(
    const CalibMethodOptions& options, const pb::HParams& hp, const calib::WeightFn& weights,
    const calib::SpecFn& spec);

}  // namespace glmq
