// The factory behind `glmq quantize --method imatrix|awq|gptq|awq+gptq`: builds the
// calibrated QuantMethod from calibration data handed in through callbacks
// (the statistics file itself is opened by pipeline/calib_data.h), and
// records the run in QuantRecipe.calibration. Tensors without statistics
// (the embedding table: no linear input) get plain RTN + scale search.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "quant/calib/methods.h"
#include "schema/glmq.pb.h"

namespace glmq {

// The calibration statistics a method reads.
struct CalibData {
  calib::StatsFn stats;                           // NotFound for a weight without statistics
  std::function<bool(const std::string&)> has;    // whether `weight` has statistics
  bool has_xtx = false;                           // X^T X recorded (GPTQ needs it)
  pb::CalibrationInfo info;                       // data, tokens, windows, statistics file
};

struct CalibMethodOptions {
  std::string method;             // imatrix | awq | gptq | awq+gptq
  int search_grid = -1;           // imatrix: QuantSpec.search_grid override
  bool imatrix_magnitude = true;  // imatrix: llama.cpp's sqrt(sigma2 + w^2) factor
  // imatrix, gptq: first fold per-channel scales searched on E[x^2] into the
  // neighbouring tensors where they pay (outlier channels; calib::
  // ImatrixPlanOptions); false: textbook imatrix / GPTQ.
  bool equalize = true;
  calib::GptqOptions gptq;
  calib::AwqOptions awq;
};

// Whether the method builds an AWQ plan (awq, awq+gptq, and imatrix / gptq
// with `equalize`): its block search reads a block's four records in a row,
// so the statistics reader should cache them.
bool UsesAwqPlan(const CalibMethodOptions& options);

// `weights` is only used by AWQ (its scale search runs here, block by
// block, before the method is returned); `spec` tells which tensors will be
// quantized and how. Errors: unknown method, statistics that lack what the
// method needs.
absl::StatusOr<std::unique_ptr<QuantMethod>> MakeCalibratedMethod(
    const CalibMethodOptions& options, const pb::HParams& hp, CalibData data,
    const calib::WeightFn& weights, const calib::SpecFn& spec);

}  // namespace glmq
