// Mixed precision for `glmq quantize --keep-outliers N`: the N most
// outlying input columns of every quantized text linear are kept at f16 in
// two companion tensors (schema/tensors.h CompanionTable: "<linear>.kept_cols"
// f16 [rows, N], "<linear>.kept_idx" i32 [N]); the main weight is quantized
// with those columns zeroed, by any method (KeepColumnsMethod wraps it), and
// the runtime reads W·x' + kept_cols·x[idx] with x' = x minus the kept
// columns. docs/calibration-results.md measures what it buys.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "pipeline/source.h"
#include "quant/calib/calib_method.h"
#include "quant/method.h"

namespace glmq {

// The companions of one linear.
struct KeptColumns {
  std::string linear;             // "blk.3.attn_qkv.weight"
  int64_t rows = 0;
  std::vector<int32_t> idx;       // [n], ascending
  std::vector<uint16_t> cols;     // [rows, n] f16, row-major
};

// Column score (the fake-quant experiment's, bench/keep_columns_experiment.cc):
// max(sqrt(a_j / median a), sqrt(r_j / median r)) with r_j = sum_r w[r, j]^2
// of the weight as the method quantizes it and a_j = E[x_j^2] / (r_j / r0_j),
// the activation the folded weight reads (r0: before the method's fold).
// The n columns of largest score, ascending. n < cols.
std::vector<int32_t> ChooseKeptColumns(const std::vector<double>& sum_w0_sq,
                                       const std::vector<double>& sum_w_sq,
                                       const InputStats& stats, int64_t n);

// Wraps `inner`: for each quantized text linear, picks its kept columns
// (ChooseKeptColumns over `stats` and two passes over its rows in `src`,
// folded by `inner`), hands `inner` the rows with those columns zeroed and
// keeps the f16 columns for TakeKept. Errors name the tensor: n >= its
// columns, or no statistics for it.
class KeepColumnsMethod : public QuantMethod {
 public:
  KeepColumnsMethod(std::unique_ptr<QuantMethod> inner, const TensorSource& src, CalibData stats,
                    int64_t n);
  absl::string_view name() const override { return inner_->name(); }
  absl::Status BeginTensor(const TensorQuantJob& job) override;
  bool Transforms(const pb::TensorEntry& entry) const override {
    return inner_->Transforms(entry);
  }
  absl::Status TransformRows(const pb::TensorEntry& entry, float* w, int64_t row_begin,
                             int64_t n_rows, int64_t cols) const override {
    return inner_->TransformRows(entry, w, row_begin, n_rows, cols);
  }
  absl::Status QuantizeRows(const TensorQuantJob& job, const float* w, int64_t row_begin,
                            int64_t n_rows, uint8_t* out, QuantStats* stats) override;
  absl::Status EndTensor(const TensorQuantJob& job) override { return inner_->EndTensor(job); }
  void Describe(pb::CalibrationInfo* info) const override;
  // The companions of the tensor last quantized, once; nullopt for a tensor
  // that keeps none.
  std::optional<KeptColumns> TakeKept() { return std::exchange(kept_, std::nullopt); }

 private:
  absl::Status PickColumns(const pb::TensorEntry& e);

  std::unique_ptr<QuantMethod> inner_;
  const TensorSource& src_;
  CalibData stats_;
  int64_t n_;
  std::optional<KeptColumns> kept_;
  std::vector<float> zeroed_;  // QuantizeRows' copy of the rows
};

// The two companion tensor entries of `k` (schema/tensors.h) and their
// bytes, for the writer: [kept_cols, kept_idx].
struct CompanionTensor {
  pb::TensorEntry entry;
  std::vector<uint8_t> bytes;
};
std::vector<CompanionTensor> CompanionTensors(const KeptColumns& k, const pb::TensorEntry& linear);

}  // namespace glmq
