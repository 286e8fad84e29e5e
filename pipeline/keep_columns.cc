#include "pipeline/keep_columns.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "core/dtype.h"
#include "core/status.h"
#include "schema/tensors.h"
#include "schema/weight.h"

namespace glmq {
namespace {

double Median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

// Rows per read of the two passes over a linear (about 16 M values).
int64_t ChunkRows(int64_t cols) { return std::max<int64_t>(1, (int64_t{1} << 24) / cols); }

}  // namespace

std::vector<int32_t> ChooseKeptColumns(const std::vector<double>& sum_w0_sq,
                                       const std::vector<double>& sum_w_sq,
                                       const InputStats& stats, int64_t n) {
  const int64_t cols = static_cast<int64_t>(sum_w_sq.size());
  std::vector<double> act(cols), score(cols);
  for (int64_t j = 0; j < cols; ++j) {
    const double s2 = sum_w0_sq[j] > 0 ? sum_w_sq[j] / sum_w0_sq[j] : 1.0;
    act[j] = stats.count > 0 ? stats.sum_x2[j] / stats.count / s2 : 0.0;
  }
  const double ma = Median(act), mw = Median(sum_w_sq);
  for (int64_t j = 0; j < cols; ++j) {
    const double a = ma > 0 ? std::sqrt(act[j] / ma) : 0.0;
    const double w = mw > 0 ? std::sqrt(sum_w_sq[j] / mw) : 0.0;
    score[j] = std::max(a, w);
  }
  std::vector<int32_t> idx(cols);
  std::iota(idx.begin(), idx.end(), 0);
  // Ties go to the lower column, so the choice does not depend on the sort.
  std::partial_sort(idx.begin(), idx.begin() + n, idx.end(), [&](int32_t a, int32_t b) {
    return score[a] != score[b] ? score[a] > score[b] : a < b;
  });
  idx.resize(n);
  std::sort(idx.begin(), idx.end());
  return idx;
}

KeepColumnsMethod::KeepColumnsMethod(std::unique_ptr<QuantMethod> inner, const TensorSource& src,
                                     CalibData stats, int64_t n)
    : inner_(std::move(inner)), src_(src), stats_(std::move(stats)), n_(n) {}

// Pass 1: column sums of squares before and after the inner method's fold;
// pass 2: the kept columns of the folded weight, as f16.
absl::Status KeepColumnsMethod::PickColumns(const pb::TensorEntry& e) {
  const int64_t rows = TensorRows(e), cols = TensorCols(e);
  if (n_ >= cols) {
    return absl::InvalidArgumentError(absl::StrCat("--keep-outliers ", n_, " is not below the ",
                                                   cols, " input columns of tensor '", e.name(),
                                                   "'"));
  }
  if (!stats_.has(e.name())) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--keep-outliers: the statistics file has no record for tensor '", e.name(), "'"));
  }
  GLMQ_ASSIGN_OR_RETURN(std::shared_ptr<const InputStats> st, stats_.stats(e.name()));
  const bool fold = inner_->Transforms(e);
  const int64_t chunk = ChunkRows(cols);
  std::vector<double> sq0(cols, 0.0), sq(cols, 0.0);
  std::vector<float> w;
  for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
    const int64_t r1 = std::min(rows, r0 + chunk);
    w.resize((r1 - r0) * cols);
    GLMQ_RETURN_IF_ERROR(src_.ReadRowsF32(e, r0, r1, w.data()));
    for (int64_t i = 0; i < (r1 - r0) * cols; ++i) sq0[i % cols] += double(w[i]) * w[i];
    if (fold) GLMQ_RETURN_IF_ERROR(inner_->TransformRows(e, w.data(), r0, r1 - r0, cols));
    for (int64_t i = 0; i < (r1 - r0) * cols; ++i) sq[i % cols] += double(w[i]) * w[i];
  }
  KeptColumns k{e.name(), rows, ChooseKeptColumns(sq0, sq, *st, n_), {}};
  k.cols.resize(rows * n_);
  for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
    const int64_t r1 = std::min(rows, r0 + chunk);
    w.resize((r1 - r0) * cols);
    GLMQ_RETURN_IF_ERROR(src_.ReadRowsF32(e, r0, r1, w.data()));
    if (fold) GLMQ_RETURN_IF_ERROR(inner_->TransformRows(e, w.data(), r0, r1 - r0, cols));
    for (int64_t r = r0; r < r1; ++r) {
      for (int64_t i = 0; i < n_; ++i) {
        const uint16_t h = F32ToF16(w[(r - r0) * cols + k.idx[i]]);
        if (!std::isfinite(F16ToF32(h))) {
          return absl::InvalidArgumentError(
              absl::StrCat("tensor '", e.name(), "': kept column ", k.idx[i], " row ", r,
                           " does not fit f16 (", w[(r - r0) * cols + k.idx[i]], ")"));
        }
        k.cols[r * n_ + i] = h;
      }
    }
  }
  kept_ = std::move(k);
  return absl::OkStatus();
}

absl::Status KeepColumnsMethod::BeginTensor(const TensorQuantJob& job) {
  kept_.reset();
  int layer;
  LinearInput which;
  if (ParseLinearWeightName(job.entry->name(), &layer, &which)) {
    const pb::TensorEntry* in = src_.FindTensor(job.entry->name());
    if (in == nullptr)
      return absl::InternalError(absl::StrCat("no source tensor ", job.entry->name()));
    GLMQ_RETURN_IF_ERROR(PickColumns(*in));
  }
  return inner_->BeginTensor(job);
}

absl::Status KeepColumnsMethod::QuantizeRows(const TensorQuantJob& job, const float* w,
                                             int64_t row_begin, int64_t n_rows, uint8_t* out,
                                             QuantStats* stats) {
  if (!kept_) return inner_->QuantizeRows(job, w, row_begin, n_rows, out, stats);
  zeroed_.assign(w, w + n_rows * job.cols);
  for (int64_t r = 0; r < n_rows; ++r)
    for (int32_t j : kept_->idx) zeroed_[r * job.cols + j] = 0.f;
  return inner_->QuantizeRows(job, zeroed_.data(), row_begin, n_rows, out, stats);
}

void KeepColumnsMethod::Describe(pb::CalibrationInfo* info) const {
  inner_->Describe(info);
  if (info->stats_file().empty()) {  // rtn: the statistics chose the columns only
    const std::string method = info->method();
    info->MergeFrom(stats_.info);
    info->set_method(method);
  }
  (*info->mutable_params())["keep_outliers"] = static_cast<double>(n_);
}

std::vector<CompanionTensor> CompanionTensors(const KeptColumns& k,
                                              const pb::TensorEntry& linear) {
  std::vector<CompanionTensor> out;
  const int64_t n = static_cast<int64_t>(k.idx.size());
  for (const CompanionDef& c : CompanionTable()) {
    CompanionTensor t;
    t.entry.set_name(CompanionName(linear.name(), c.role));
    t.entry.set_role(c.role);
    t.entry.set_layer(linear.layer());
    t.entry.set_encoding(c.encoding);
    for (int64_t d : CompanionShape(c, k.rows, n)) t.entry.add_shape(d);
    const void* p = c.role == pb::ROLE_KEPT_COLS ? static_cast<const void*>(k.cols.data())
                                                 : static_cast<const void*>(k.idx.data());
    const size_t bytes = c.role == pb::ROLE_KEPT_COLS ? k.cols.size() * 2 : k.idx.size() * 4;
    t.bytes.resize(bytes);
    std::memcpy(t.bytes.data(), p, bytes);
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace glmq
