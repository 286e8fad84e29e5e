#include "quant/method.h"

#include "core/status.h"

namespace glmq {
namespace {

class RtnMethod : public QuantMethod {
 public:
  explicit RtnMethod(int search_grid) : search_grid_(search_grid) {}

  absl::string_view name() const override { return "rtn"; }

  absl::Status QuantizeRows(const TensorQuantJob& job, const float* w, int64_t row_begin,
                            int64_t n_rows, uint8_t* out, QuantStats* stats) override {
    return QuantizeRawRows(job, DType::kF32, w, row_begin, n_rows, out, stats);
  }

  bool QuantizesRaw() const override { return true; }
  absl::Status QuantizeRawRows(const TensorQuantJob& job, DType dtype, const void* w,
                               int64_t row_begin, int64_t n_rows, uint8_t* out,
                               QuantStats* stats) override {
    QuantSpec spec = job.spec;
    if (search_grid_ >= 0) spec.search_grid = search_grid_;
    QuantStats chunk;
    absl::StatusOr<double> nmse = QuantizeMatrixRaw(dtype, w, n_rows, job.cols, spec,
                                                    /*importance=*/nullptr, out, &chunk);
    if (!nmse.ok())
      return Annotate(nmse.status(),
                      absl::StrCat(job.entry->name(), " rows from ", row_begin));
    stats->Add(chunk);
    return absl::OkStatus();
  }

 private:
  int search_grid_;
};

}  // namespace

std::unique_ptr<QuantMethod> MakeRtnMethod(int search_grid) {
  return std::make_unique<RtnMethod>(search_grid);
}

}  // namespace glmq
