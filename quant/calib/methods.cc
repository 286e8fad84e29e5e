#include "quant/calib/methods.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "quant/calib/imatrix.h"
#include "quant/encodings.h"
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

absl::StatusOr<ActivationModel> ActivationModelFor(const InputStats& s) {
  if (s.count <= 0) return absl::InvalidArgumentError(absl::StrCat(s.weight, ": no rows"));
  if (!s.xtx.empty()) {
    std::vector<double> g(s.xtx.size());
    for (size_t i = 0; i < g.size(); ++i) g[i] = s.xtx[i] / static_cast<double>(s.count);
    return ActivationModel::FromGram(std::move(g), s.cols);
  }
  if (s.n_samples() > 0) return ActivationModel::FromSamples(s.samples, s.n_samples(), s.cols);
  return absl::FailedPreconditionError(
      absl::StrCat(s.weight, ": the statistics have neither X^T X nor samples (AWQ needs one)"));
}

namespace {

class GptqMethod : public QuantMethod {
 public:
  GptqMethod(StatsFn stats, GptqOptions options) : stats_(std::move(stats)), options_(options) {}
  absl::string_view name() const override { return "gptq"; }
  absl::Status BeginTensor(const TensorQuantJob& job) override {
    GLMQ_ASSIGN_OR_RETURN(std::shared_ptr<const InputStats> s, stats_(job.entry->name()));
    if (s->xtx.empty() || s->cols != job.cols)
      return absl::FailedPreconditionError(absl::StrCat(
          job.entry->name(), ": GPTQ needs X^T X of ", job.cols, " channels (calibrate without "
          "--no-xtx)"));
    std::vector<double> h(s->xtx.size());
    for (size_t i = 0; i < h.size(); ++i) h[i] = 2.0 * s->xtx[i] / static_cast<double>(s->count);
    auto prep = GptqPrepare(h, job.cols, options_);
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

std::unique_ptr<QuantMethod> MakeImatrixMethod(StatsFn stats, int search_grid) {
  ImportanceFn fn = [stats](const pb::TensorEntry& e)
      -> absl::StatusOr<std::optional<std::vector<float>>> {
    GLMQ_ASSIGN_OR_RETURN(std::shared_ptr<const InputStats> s, stats(e.name()));
    GLMQ_ASSIGN_OR_RETURN(std::vector<float> imp, ImatrixImportance(s->sum_x2, s->count));
    return std::optional<std::vector<float>>(std::move(imp));
  };
  return MakeRtnMethod(search_grid, std::move(fn));
}

}  // namespace glmq::calib
