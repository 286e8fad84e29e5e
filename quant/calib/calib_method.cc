#include "quant/calib/calib_method.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/progress.h"
#include "core/status.h"

namespace glmq {
namespace {

// Adds the statistics file's provenance to the inner method's Describe,
// and quantizes tensors that have no statistics (the embedding table: no
// linear input) with plain RTN + scale search instead.
class Recorded : public QuantMethod {
 public:
  Recorded(std::unique_ptr<QuantMethod> inner, CalibData data, int search_grid)
      : inner_(std::move(inner)), data_(std::move(data)), rtn_(MakeRtnMethod(search_grid)) {}
  absl::string_view name() const override { return inner_->name(); }
  bool Transforms(const pb::TensorEntry& e) const override { return inner_->Transforms(e); }
  absl::Status TransformRows(const pb::TensorEntry& e, float* w, int64_t row_begin,
                             int64_t n_rows, int64_t cols) const override {
    return inner_->TransformRows(e, w, row_begin, n_rows, cols);
  }
  absl::Status BeginTensor(const TensorQuantJob& job) override {
    current_ = data_.has(job.entry->name()) ? inner_.get() : rtn_.get();
    return current_->BeginTensor(job);
  }
  absl::Status QuantizeRows(const TensorQuantJob& job, const float* w, int64_t row_begin,
                            int64_t n_rows, uint8_t* out, QuantStats* stats) override {
    return current_->QuantizeRows(job, w, row_begin, n_rows, out, stats);
  }
  absl::Status EndTensor(const TensorQuantJob& job) override { return current_->EndTensor(job); }
  void Describe(pb::CalibrationInfo* info) const override {
    inner_->Describe(info);
    info->set_method(std::string(inner_->name()));
    info->set_data_name(data_.info.data_name());
    info->set_data_xxh64(data_.info.data_xxh64());
    info->set_n_tokens(data_.info.n_tokens());
    info->set_n_windows(data_.info.n_windows());
    info->set_window(data_.info.window());
    info->set_stats_file(data_.info.stats_file());
  }

 private:
  std::unique_ptr<QuantMethod> inner_;
  CalibData data_;
  std::unique_ptr<QuantMethod> rtn_;
  QuantMethod* current_ = nullptr;
};

// AwqMethod with its folds exposed through the QuantMethod transform hook.
class AwqAdapter : public calib::AwqMethod {
 public:
  using calib::AwqMethod::AwqMethod;
  bool Transforms(const pb::TensorEntry& e) const override { return FoldFor(e.name()) != nullptr; }
  absl::Status TransformRows(const pb::TensorEntry& e, float* w, int64_t row_begin,
                             int64_t n_rows, int64_t cols) const override {
    if (e.shape_size() == 1) {  // norms, biases: n_rows * cols values along one axis
      calib::AwqMethod::TransformRows(e.name(), w, row_begin * cols, n_rows * cols, 1);
    } else {
      calib::AwqMethod::TransformRows(e.name(), w, row_begin, n_rows, cols);
    }
    return absl::OkStatus();
  }
};

}  // namespace

bool UsesAwqPlan(const CalibMethodOptions& o) {
  const bool equalize = o.equalize && (o.method == "imatrix" || o.method == "gptq");
  return equalize || o.method == "awq" || o.method == "awq+gptq";
}

absl::StatusOr<std::unique_ptr<QuantMethod>> MakeCalibratedMethod(
    const CalibMethodOptions& o, const pb::HParams& hp, CalibData data,
    const calib::WeightFn& weights, const calib::SpecFn& spec) {
  const calib::StatsFn& stats = data.stats;
  if ((o.method == "gptq" || o.method == "awq+gptq") && !data.has_xtx)
    return absl::FailedPreconditionError(absl::StrCat(
        data.info.stats_file(), " has no X^T X (it was calibrated with --no-xtx)"));
  if (o.method != "imatrix" && o.method != "gptq" && o.method != "awq+gptq" &&
      o.method != "awq")
    return absl::InvalidArgumentError(
        absl::StrCat("--method '", o.method, "' (use rtn, imatrix, awq, gptq or awq+gptq)"));
  // imatrix and gptq equalise outlier channels first (calib::ImatrixPlanOptions).
  const bool equalize = o.equalize && (o.method == "imatrix" || o.method == "gptq");
  const calib::AwqOptions awq = equalize ? calib::ImatrixPlanOptions(o.awq) : o.awq;
  std::shared_ptr<calib::AwqPlan> plan;
  if (UsesAwqPlan(o)) {
    Progress progress("AWQ scale search", static_cast<uint64_t>(hp.n_layers()), "layers");
    GLMQ_ASSIGN_OR_RETURN(calib::AwqPlan p,
                          calib::BuildAwqPlan(hp, weights, stats, spec, awq, [&](int layer) {
                            progress.Update(absl::StrCat("layer ", layer), layer + 1);
                          }));
    progress.Finish();
    plan = std::make_shared<calib::AwqPlan>(std::move(p));
  }
  std::unique_ptr<QuantMethod> inner;
  if (o.method == "imatrix") {
    inner = calib::MakeImatrixMethod(stats, o.search_grid, o.imatrix_magnitude, plan, awq);
  } else if (o.method == "gptq") {
    inner = calib::MakeGptqMethod(stats, o.gptq, plan, awq);
  } else if (o.method == "awq+gptq") {
    inner = calib::MakeAwqGptqMethod(stats, o.gptq, plan, awq);
  } else {
    inner = std::make_unique<AwqAdapter>(std::move(*plan), stats, o.awq);
  }
  return std::unique_ptr<QuantMethod>(
      new Recorded(std::move(inner), std::move(data), o.search_grid));
}

}  // namespace glmq
