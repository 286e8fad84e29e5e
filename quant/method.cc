#include "quant/method.h"

#include "core/status.h"

namespace glmq {
namespace {

class RtnMethod : public QuantMethod {
 public:
  RtnMethod(int search_grid, ImportanceFn importance)
      : search_grid_(search_grid), importance_fn_(std::move(importance)) {}

  absl::string_view name() const override { return importance_fn_ ? "imatrix" : "rtn"; }

  absl::Status BeginTensor(const TensorQuantJob& job) override {
    importance_.reset();
    if (!importance_fn_) return absl::OkStatus();
    GLMQ_ASSIGN_OR_RETURN(importance_, importance_fn_(*job.entry));
    if (importance_ && static_cast<int64_t>(importance_->size()) != job.cols)
      return absl::InvalidArgumentError(absl::StrCat("importance of ", job.entry->name(), " has ",
                                                     importance_->size(), " values, expected ",
                                                     job.cols));
    return absl::OkStatus();
  }

  absl::Status QuantizeRows(const TensorQuantJob& job, const float* w, int64_t row_begin,
                            int64_t n_rows, uint8_t* out, QuantStats* stats) override {
    QuantSpec spec = job.spec;
    if (search_grid_ >= 0) spec.search_grid = search_grid_;
    QuantStats chunk;
    absl::StatusOr<double> nmse = QuantizeMatrix(
        w, n_rows, job.cols, spec, importance_ ? importance_->data() : nullptr, out, &chunk);
    if (!nmse.ok())
      return Annotate(nmse.status(),
                      absl::StrCat(job.entry->name(), " rows from ", row_begin));
    stats->Add(chunk);
    return absl::OkStatus();
  }

 private:
  int search_grid_;
  ImportanceFn importance_fn_;
  std::optional<std::vector<float>> importance_;
};

}  // namespace

std::unique_ptr<QuantMethod> MakeRtnMethod(int search_grid, ImportanceFn importance) {
  return std::make_unique<RtnMethod>(search_grid, std::move(importance));
}

}  // namespace glmq
