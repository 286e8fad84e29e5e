// The per-tensor quantization step behind `glmq quantize`, as an object so
// calibrated methods (imatrix, AWQ, GPTQ in quant/calib/) can replace plain
// round-to-nearest without touching the command. The command streams each
// tensor in row chunks: BeginTensor, QuantizeRows for every chunk in order,
// EndTensor.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "schema/glmq.pb.h"
#include "quant/quantize.h"

namespace glmq {

// What a method knows about the tensor being quantized.
struct TensorQuantJob {
  const pb::TensorEntry* entry = nullptr;  // canonical name, role, layer, shape
  QuantSpec spec;                          // target encoding / group size
  int64_t rows = 0;                        // out_features
  int64_t cols = 0;                        // in_features
};

class QuantMethod {
 public:
  virtual ~QuantMethod() = default;
  virtual absl::string_view name() const = 0;  // "rtn", "imatrix", "awq", "gptq"
  virtual absl::Status BeginTensor(const TensorQuantJob& job) { return absl::OkStatus(); }
  // Optional exact rewrite of a tensor before it is encoded, for every
  // tensor the command writes (AWQ folds its scales into norms, biases and
  // weights: quant/calib/methods.h). Tensors with Transforms() true are
  // never copied verbatim. `w` holds rows [row_begin, row_begin + n_rows)
  // as f32 [n_rows, cols].
  virtual bool Transforms(const pb::TensorEntry& entry) const { return false; }
  virtual absl::Status TransformRows(const pb::TensorEntry& entry, float* w, int64_t row_begin,
                                     int64_t n_rows, int64_t cols) const {
    return absl::OkStatus();
  }
  // Quantizes rows [row_begin, row_begin + n_rows) of the tensor, given as
  // f32 w[n_rows, cols], into out[n_rows * row_bytes]; adds to *stats.
  virtual absl::Status QuantizeRows(const TensorQuantJob& job, const float* w, int64_t row_begin,
                                    int64_t n_rows, uint8_t* out, QuantStats* stats) = 0;
  // Optional: QuantizeRows for rows still in their stored dense type
  // (f32/f16/bf16, `dtype`), converted inside the quantizer row by row
  // (QuantizeMatrixRaw) instead of as a whole f32 chunk. Same bytes and
  // stats as QuantizeRows on the converted rows. Only called when
  // QuantizesRaw() is true and Transforms() is false for the tensor.
  virtual bool QuantizesRaw() const { return false; }
  virtual absl::Status QuantizeRawRows(const TensorQuantJob& job, DType dtype, const void* w,
                                       int64_t row_begin, int64_t n_rows, uint8_t* out,
                                       QuantStats* stats) {
    return absl::UnimplementedError(absl::StrCat(name(), ": no raw-row path"));
  }
  virtual absl::Status EndTensor(const TensorQuantJob& job) { return absl::OkStatus(); }
  // Filled into QuantRecipe.calibration.
  virtual void Describe(pb::CalibrationInfo* info) const { info->set_method(std::string(name())); }
};

// Round-to-nearest with the per-group scale search of QuantizeMatrix.
// `search_grid` overrides QuantSpec.search_grid (-1 keeps it).
// Importance-weighted variants: quant/calib/methods.h (imatrix, AWQ, GPTQ).
std::unique_ptr<QuantMethod> MakeRtnMethod(int search_grid = -1);

}  // namespace glmq
