// glmq quantize: an HF folder or a .glmq -> a quantized .glmq, through the
// stream of pipeline/stream.h, with the tensors planned by a quantization
// scheme (quant/scheme.h) and quantized by rtn or a calibrated method
// (quant/calib/calib_method.h, statistics from pipeline/calib_data.h).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "pipeline/stream.h"
#include "schema/glmq.pb.h"

namespace glmq {

struct QuantizeOptions {
  std::string input;   // HF checkpoint folder or .glmq file
  std::string output;  // .glmq file
  std::string scheme;  // preset (quant/scheme.h), or "none" with tensor_types
  std::vector<std::string> tensor_types;  // --tensor-type rules, before the preset's
  std::string method = "rtn";             // rtn | imatrix | awq | gptq | awq+gptq
  std::string calib;                      // statistics file for the calibrated methods
  bool no_equalize = false;               // imatrix, gptq: textbook methods (no folds)
  int search_grid = -1;                   // scale-search override (-1: the encoding's default)
  std::string command_line;               // for provenance
};

struct QuantizeSummary {
  std::string preset;
  uint64_t file_bytes = 0;
  double bits_per_weight = 0;  // over the tensors with role != VISION
  // Tensors a quantizing rule matched that stayed as stored because the
  // runtime reads them dense (QuantScheme::KeptDense).
  std::vector<std::string> kept_dense;
};

// Quantizes options.input into options.output. After each tensor,
// `on_tensor(input entry, rule as asked, result)` is called (for a report).
// Errors: bad scheme, re-quantizing a quantized tensor to another encoding,
// a method without its statistics, and every stream error, naming the file
// and tensor; nothing is left at options.output on error.
absl::StatusOr<QuantizeSummary> QuantizeModel(
    const QuantizeOptions& options,
    const std::function<void(const pb::TensorEntry&, const pb::QuantRule&, const TensorResult&)>&
        on_tensor = {});

}  // namespace glmq
