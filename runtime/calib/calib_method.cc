#include "runtime/calib/calib_method.h"

#include <mutex>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/progress.h"
#include "core/status.h"
#include "runtime/calib/stats_file.h"

namespace glmq {
namespace {

// Adds the statistics file's provenance to the inner method's Describe,
// and quantizes tensors that have no statistics (the embedding table: no
// linear input) with plain RTN + scale search instead.
class Recorded : public QuantMethod {
 public:
  Recorded(std::unique_ptr<QuantMethod> inner, std::shared_ptr<StatsFile> file, int search_grid)
      : inner_(std::move(inner)), file_(std::move(file)), rtn_(MakeRtnMethod(search_grid)) {}
  absl::string_view name() const override { return inner_->name(); }
  bool Transforms(const pb::TensorEntry& e) const override { return inner_->Transforms(e); }
  absl::Status TransformRows(const pb::TensorEntry& e, float* w, int64_t row_begin,
                             int64_t n_rows, int64_t cols) const override {
    return inner_->TransformRows(e, w, row_begin, n_rows, cols);
  }
  absl::Status BeginTensor(const TensorQuantJob& job) override {
    current_ = file_->Find(job.entry->name()) != nullptr ? inner_.get() : rtn_.get();
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
    const calib::pb::StatsMetadata& m = file_->metadata();
    info->set_data_name(m.data_name());
    info->set_data_xxh64(m.data_xxh64());
    info->set_n_tokens(m.n_tokens());
    info->set_n_windows(m.n_windows());
    info->set_window(m.window());
    info->set_stats_file(file_->path());
  }

 private:
  std::unique_ptr<QuantMethod> inner_;
  std::shared_ptr<StatsFile> file_;
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

// The statistics must come from this model: same weights (fingerprint,
// when recorded) and every record's layer and width as the model's.
absl::Status CheckStatsMatchModel(const StatsFile& file, const pb::HParams& hp,
                                  const calib::WeightFn& weights) {
  const calib::pb::StatsMetadata& m = file.metadata();
  for (const calib::pb::InputRecord& r : m.inputs()) {
    int64_t want = hp.hidden_size();
    for (int k = 0; k <= static_cast<int>(LinearInput::kOutput); ++k)
      if (LinearWeightName(r.layer(), static_cast<LinearInput>(k)) == r.weight())
        want = LinearInputCols(hp, static_cast<LinearInput>(k));
    if (r.layer() >= hp.n_layers() || r.cols() != want)
      return absl::FailedPreconditionError(absl::StrCat(
          file.path(), ": statistics for ", r.weight(), " (layer ", r.layer(), ", ", r.cols(),
          " channels) do not fit this model (", hp.n_layers(), " layers, ", want,
          " channels): it was calibrated on ", m.model_path()));
  }
  if (m.weights_xxh64() != 0) {
    GLMQ_ASSIGN_OR_RETURN(std::vector<float> w, weights(kFingerprintWeight));
    if (WeightsFingerprint(w) != m.weights_xxh64())
      return absl::FailedPreconditionError(absl::StrCat(
          file.path(), ": calibrated on a different model (", m.model_path(), "): ",
          kFingerprintWeight, " differs"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<QuantMethod>> MakeCalibratedMethod(
    const CalibMethodOptions& o, const pb::HParams& hp, const calib::WeightFn& weights,
    const calib::SpecFn& spec) {
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<StatsFile> opened, StatsFile::Open(o.stats_path));
  std::shared_ptr<StatsFile> file = std::move(opened);
  GLMQ_RETURN_IF_ERROR(CheckStatsMatchModel(*file, hp, weights));
  // Tensors are processed one by one; AWQ's block search asks for a block's
  // four records in a row, so it caches them. The others cache nothing: GPTQ
  // frees X^T X once it has copied it into its factor's buffer.
  // imatrix and gptq equalise outlier channels first (calib::ImatrixPlanOptions).
  const bool equalize = o.equalize && (o.method == "imatrix" || o.method == "gptq");
  const bool awq_plan = equalize || o.method == "awq" || o.method == "awq+gptq";
  const size_t cache_size = awq_plan ? 4 : 0;
  auto cache = std::make_shared<absl::flat_hash_map<std::string, std::shared_ptr<const InputStats>>>();
  auto mu = std::make_shared<std::mutex>();
  calib::StatsFn stats = [file, cache, mu, cache_size](const std::string& weight)
      -> absl::StatusOr<std::shared_ptr<const InputStats>> {
    std::lock_guard<std::mutex> lock(*mu);
    auto it = cache->find(weight);
    if (it != cache->end()) return it->second;
    GLMQ_ASSIGN_OR_RETURN(InputStats s, file->Load(weight));
    if (cache->size() >= cache_size) cache->clear();
    auto p = std::make_shared<const InputStats>(std::move(s));
    if (cache_size > 0) (*cache)[weight] = p;
    return p;
  };
  if ((o.method == "gptq" || o.method == "awq+gptq") && !file->metadata().has_xtx())
    return absl::FailedPreconditionError(
        absl::StrCat(o.stats_path, " has no X^T X (it was calibrated with --no-xtx)"));
  const calib::AwqOptions awq = equalize ? calib::ImatrixPlanOptions(o.awq) : o.awq;
  std::shared_ptr<calib::AwqPlan> plan;
  if (awq_plan) {
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
  } else if (o.method == "awq") {
    inner = std::make_unique<AwqAdapter>(std::move(*plan), stats, o.awq);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--method '", o.method, "' (use rtn, imatrix, awq, gptq or awq+gptq)"));
  }
  return std::unique_ptr<QuantMethod>(new Recorded(std::move(inner), file, o.search_grid));
}

}  // namespace glmq
