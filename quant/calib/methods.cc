#include "quant/calib/methods.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "quant/calib/imatrix.h"
#include "schema/encodings.h"
#include "quant/reference.h"

namespace glmq::calib {

absl::Status AddQuantStats(const float* w, int64_t rows, int64_t cols, const QuantSpec& spec,
                           const uint8_t* out, QuantStats* stats) {
  GLMQ_ASSIGN_OR_RETURN(GroupGeometry geo,
                        GetGroupGeometry(spec.encoding, spec.group_size, cols));
  std::vector<float> deq(cols);
  QuantStats s;
  for (int64_t r = 0; r < rows; ++r) {
    DequantizeRowRef(geo, out + r * geo.row_bytes, cols, deq.data());
    for (int64_t c = 0; c < cols; ++c) {
      const double x = w[r * cols + c], e = x - deq[c];
      s.sum_sq_err += e * e;
      s.weighted_sq_err += e * e;
      s.sum_sq += x * x;
      s.max_abs_err = std::max(s.max_abs_err, std::fabs(e));
    }
  }
  s.n_values = rows * cols;
  stats->Add(s);
  return absl::OkStatus();
}

absl::StatusOr<ActivationModel> ActivationModelFor(const InputStats& s, int64_t group) {
  if (s.count <= 0) return absl::InvalidArgumentError(absl::StrCat(s.weight, ": no rows"));
  const double inv_n = 1.0 / static_cast<double>(s.count);
  if (!s.xtx.empty() && (s.n_samples() == 0 || s.cols <= s.n_samples())) {
    std::vector<double> g(s.xtx.size());
    for (size_t i = 0; i < g.size(); ++i) g[i] = s.xtx[i] * inv_n;
    return ActivationModel::FromGram(std::move(g), s.cols);
  }
  if (s.n_samples() > 0) {
    GLMQ_ASSIGN_OR_RETURN(ActivationModel m,
                          ActivationModel::FromSamples(s.samples, s.n_samples(), s.cols));
    if (!s.xtx.empty() && group > 0) {
      GLMQ_RETURN_IF_ERROR(m.AddGramBlocks(s.xtx.data(), inv_n, group));
    }
    return m;
  }
  return absl::FailedPreconditionError(
      absl::StrCat(s.weight, ": the statistics have neither X^T X nor samples (AWQ needs one)"));
}

namespace {

// A plan's folds as the QuantMethod transform hook (quant/method.h); no
// plan: nothing is transformed.
class Folds {
 public:
  explicit Folds(std::shared_ptr<const AwqPlan> plan) : plan_(std::move(plan)) {}
  bool empty() const { return plan_ == nullptr; }
  const TensorFold* For(const std::string& name) const {
    if (plan_ == nullptr) return nullptr;
    auto it = plan_->folds.find(name);
    return it == plan_->folds.end() ? nullptr : &it->second;
  }
  bool Transforms(const pb::TensorEntry& e) const { return For(e.name()) != nullptr; }
  // Norms and biases (1-D) arrive as n_rows * cols values along one axis.
  absl::Status TransformRows(const pb::TensorEntry& e, float* w, int64_t row_begin, int64_t n_rows,
                             int64_t cols) const {
    const TensorFold* f = For(e.name());
    if (f == nullptr) return absl::OkStatus();
    if (e.shape_size() == 1) {
      ApplyFold(*f, w, row_begin * cols, n_rows * cols, 1);
    } else {
      ApplyFold(*f, w, row_begin, n_rows, cols);
    }
    return absl::OkStatus();
  }
  // 1 / s for the columns of a folded weight, or empty.
  std::vector<float> InverseColumnScale(const std::string& name) const {
    const TensorFold* f = For(name);
    std::vector<float> inv;
    if (f == nullptr) return inv;
    for (float s : f->col_mul) inv.push_back(1.f / s);
    return inv;
  }
  void Describe(const AwqOptions& o, pb::CalibrationInfo* info) const {
    if (plan_ == nullptr) return;
    (*info->mutable_params())["awq_scale_grid"] = o.scale_grid;
    (*info->mutable_params())["awq_search_rows"] = static_cast<double>(o.search_rows);
    (*info->mutable_params())["awq_diagonal"] = o.diagonal ? 1 : 0;
    (*info->mutable_params())["awq_min_gain"] = o.min_gain;
    (*info->mutable_params())["awq_act_block"] = static_cast<double>(o.act_block);
  }

 private:
  std::shared_ptr<const AwqPlan> plan_;
};

class GptqMethod : public QuantMethod {
 public:
  GptqMethod(std::string name, StatsFn stats, GptqOptions options,
             std::shared_ptr<const AwqPlan> plan, const AwqOptions& plan_options)
      : name_(std::move(name)),
        stats_(std::move(stats)),
        options_(options),
        folds_(std::move(plan)),
        plan_options_(plan_options) {}
  absl::string_view name() const override { return name_; }
  bool Transforms(const pb::TensorEntry& e) const override { return folds_.Transforms(e); }
  absl::Status TransformRows(const pb::TensorEntry& e, float* w, int64_t row_begin, int64_t n_rows,
                             int64_t cols) const override {
    return folds_.TransformRows(e, w, row_begin, n_rows, cols);
  }
  absl::Status BeginTensor(const TensorQuantJob& job) override {
    prep_ = GptqPrepared{};  // the previous tensor's factor
    GLMQ_ASSIGN_OR_RETURN(std::shared_ptr<const InputStats> s, stats_(job.entry->name()));
    if (s->xtx.empty() || s->cols != job.cols)
      return absl::FailedPreconditionError(absl::StrCat(
          job.entry->name(), ": GPTQ needs X^T X of ", job.cols, " channels (calibrate without "
          "--no-xtx)"));
    // H = 2 X^T X / n, scaled while GptqPrepare permutes it into its own
    // buffer (no scaled copy). The record is released once loaded (freed
    // then unless the statistics reader caches it), so X^T X and the factor
    // are not both held through the factorisation. A folded weight's input
    // is x / s: H_ij / (s_i s_j).
    const double scale = 2.0 / static_cast<double>(s->count);
    const double* xtx = s->xtx.data();
    auto prep = GptqPrepare(
        xtx, job.cols, scale, options_, [&s] { s.reset(); },
        folds_.InverseColumnScale(job.entry->name()));
    if (!prep.ok()) return Annotate(prep.status(), job.entry->name());
    prep_ = std::move(*prep);
    return absl::OkStatus();
  }
  absl::Status QuantizeRows(const TensorQuantJob& job, const float* w, int64_t row_begin,
                            int64_t n_rows, uint8_t* out, QuantStats* stats) override {
    GLMQ_RETURN_IF_ERROR(
        GptqQuantizeRows(prep_, w, n_rows, job.spec, options_.block_size, out));
    return AddQuantStats(w, n_rows, job.cols, job.spec, out, stats);
  }
  void Describe(pb::CalibrationInfo* info) const override {
    info->set_method(std::string(name()));
    auto& p = *info->mutable_params();
    p["damp"] = options_.damp;
    p["damp_relative"] = options_.damp_mode == GptqDamp::kRelative ? 1 : 0;
    p["block_size"] = options_.block_size;
    p["act_order"] = options_.act_order ? 1 : 0;
    p["static_groups"] = options_.groups == GptqGroups::kLazy ? 0 : 1;
    p["searched_scales"] = options_.groups == GptqGroups::kStaticSearched ? 1 : 0;
    p["equalize"] = folds_.empty() ? 0 : 1;
    folds_.Describe(plan_options_, info);
  }

 private:
  std::string name_;
  StatsFn stats_;
  GptqOptions options_;
  Folds folds_;
  AwqOptions plan_options_;
  GptqPrepared prep_;
};

}  // namespace

std::unique_ptr<QuantMethod> MakeGptqMethod(StatsFn stats, GptqOptions options,
                                            std::shared_ptr<const AwqPlan> plan,
                                            const AwqOptions& plan_options) {
  return std::make_unique<GptqMethod>("gptq", std::move(stats), options, std::move(plan),
                                      plan_options);
}

std::unique_ptr<QuantMethod> MakeAwqGptqMethod(StatsFn stats, GptqOptions options,
                                               std::shared_ptr<const AwqPlan> plan,
                                               const AwqOptions& plan_options) {
  return std::make_unique<GptqMethod>("awq+gptq", std::move(stats), options, std::move(plan),
                                      plan_options);
}

namespace {

// imatrix as llama.cpp uses it: rtn's candidates, each scored by the squared
// error weighted by E[x_j^2] * sqrt(sigma2_row + w^2) (QuantWeighting); with
// a plan, on the folded weights with E[(x / s)_j^2].
class ImatrixMethod : public QuantMethod {
 public:
  ImatrixMethod(StatsFn stats, int search_grid, bool magnitude, std::shared_ptr<const AwqPlan> plan,
                const AwqOptions& plan_options)
      : stats_(std::move(stats)),
        search_grid_(search_grid),
        magnitude_(magnitude),
        folds_(std::move(plan)),
        plan_options_(plan_options) {}
  absl::string_view name() const override { return "imatrix"; }
  bool Transforms(const pb::TensorEntry& e) const override { return folds_.Transforms(e); }
  absl::Status TransformRows(const pb::TensorEntry& e, float* w, int64_t row_begin, int64_t n_rows,
                             int64_t cols) const override {
    return folds_.TransformRows(e, w, row_begin, n_rows, cols);
  }
  absl::Status BeginTensor(const TensorQuantJob& job) override {
    GLMQ_ASSIGN_OR_RETURN(std::shared_ptr<const InputStats> s, stats_(job.entry->name()));
    std::vector<double> sum_x2 = s->sum_x2;
    const std::vector<float> inv = folds_.InverseColumnScale(job.entry->name());
    for (size_t j = 0; j < inv.size() && j < sum_x2.size(); ++j)
      sum_x2[j] *= static_cast<double>(inv[j]) * inv[j];
    auto imp = ImatrixImportance(sum_x2, s->count);
    if (!imp.ok()) return Annotate(imp.status(), job.entry->name());
    if (static_cast<int64_t>(imp->size()) != job.cols)
      return absl::InvalidArgumentError(absl::StrCat(job.entry->name(), ": statistics of ",
                                                     imp->size(), " channels for ", job.cols,
                                                     " columns"));
    importance_ = std::move(*imp);
    return absl::OkStatus();
  }
  absl::Status QuantizeRows(const TensorQuantJob& job, const float* w, int64_t row_begin,
                            int64_t n_rows, uint8_t* out, QuantStats* stats) override {
    QuantSpec spec = job.spec;
    if (search_grid_ >= 0) spec.search_grid = search_grid_;
    QuantWeighting weighting;
    weighting.importance = importance_.data();
    weighting.magnitude = magnitude_;
    QuantStats chunk;
    absl::StatusOr<double> nmse =
        QuantizeMatrixWeighted(w, n_rows, job.cols, spec, weighting, out, &chunk);
    if (!nmse.ok())
      return Annotate(nmse.status(), absl::StrCat(job.entry->name(), " rows from ", row_begin));
    stats->Add(chunk);
    return absl::OkStatus();
  }
  void Describe(pb::CalibrationInfo* info) const override {
    info->set_method("imatrix");
    (*info->mutable_params())["magnitude"] = magnitude_ ? 1 : 0;
    (*info->mutable_params())["equalize"] = folds_.empty() ? 0 : 1;
    folds_.Describe(plan_options_, info);
  }

 private:
  StatsFn stats_;
  int search_grid_;
  bool magnitude_;
  Folds folds_;
  AwqOptions plan_options_;
  std::vector<float> importance_;
};

}  // namespace

AwqOptions ImatrixPlanOptions(AwqOptions base) {
  base.diagonal = true;
  base.min_gain = 0.25;
  base.act_block = 32;  // the runtime's activation blocks (specs/encodings.md)
  return base;
}

std::unique_ptr<QuantMethod> MakeImatrixMethod(StatsFn stats, int search_grid, bool magnitude,
                                               std::shared_ptr<const AwqPlan> plan,
                                               const AwqOptions& plan_options) {
  return std::make_unique<ImatrixMethod>(std::move(stats), search_grid, magnitude, std::move(plan),
                                         plan_options);
}

}  // namespace glmq::calib
