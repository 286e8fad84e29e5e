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

class GptqMethod : public QuantMethod {
 public:
  GptqMethod(StatsFn stats, GptqOptions options) : stats_(std::move(stats)), options_(options) {}
  absl::string_view name() const override { return "gptq"; }
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
    // are not both held through the factorisation.
    const double scale = 2.0 / static_cast<double>(s->count);
    const double* xtx = s->xtx.data();
    auto prep = GptqPrepare(xtx, job.cols, scale, options_, [&s] { s.reset(); });
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
    info->set_method("gptq");
    (*info->mutable_params())["damp"] = options_.damp;
    (*info->mutable_params())["block_size"] = options_.block_size;
    (*info->mutable_params())["act_order"] = options_.act_order ? 1 : 0;
  }

 private:
  StatsFn stats_;
  GptqOptions options_;
  GptqPrepared prep_;
};

}  // namespace

std::unique_ptr<QuantMethod> MakeGptqMethod(StatsFn stats, GptqOptions options) {
  return std::make_unique<GptqMethod>(std::move(stats), options);
}

namespace {

// imatrix as llama.cpp uses it: rtn's candidates, each scored by the squared
// error weighted by E[x_j^2] * sqrt(sigma2_row + w^2) (QuantWeighting).
class ImatrixMethod : public QuantMethod {
 public:
  ImatrixMethod(StatsFn stats, int search_grid, bool magnitude)
      : stats_(std::move(stats)), search_grid_(search_grid), magnitude_(magnitude) {}
  absl::string_view name() const override { return "imatrix"; }
  absl::Status BeginTensor(const TensorQuantJob& job) override {
    GLMQ_ASSIGN_OR_RETURN(std::shared_ptr<const InputStats> s, stats_(job.entry->name()));
    auto imp = ImatrixImportance(s->sum_x2, s->count);
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
  }

 private:
  StatsFn stats_;
  int search_grid_;
  bool magnitude_;
  std::vector<float> importance_;
};

}  // namespace

std::unique_ptr<QuantMethod> MakeImatrixMethod(StatsFn stats, int search_grid, bool magnitude) {
  return std::make_unique<ImatrixMethod>(std::move(stats), search_grid, magnitude);
}

}  // namespace glmq::calib
