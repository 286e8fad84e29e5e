#include "runtime/kept_columns.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "schema/tensors.h"

namespace glmq {
namespace {

// The kept_idx view's indices against the linear's columns.
absl::Status CheckIndices(const WeightView& idx, int64_t cols) {
  std::vector<bool> seen(cols, false);
  const int32_t* p = reinterpret_cast<const int32_t*>(idx.data);
  for (int64_t i = 0; i < idx.cols; ++i) {
    if (p[i] < 0 || p[i] >= cols || seen[p[i]]) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor '", idx.name, "': index ", i, " is ", p[i],
                       p[i] >= 0 && p[i] < cols ? " twice" : "", "; the linear has ", cols,
                       " columns"));
    }
    seen[p[i]] = true;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status AttachKeptColumns(const WeightSource& src, WeightView* w) {
  WeightView parts[2];
  int found = 0;
  std::string missing;
  const std::vector<CompanionDef>& table = CompanionTable();
  for (size_t i = 0; i < table.size() && i < 2; ++i) {
    const std::string name = CompanionName(w->name, table[i].role);
    absl::StatusOr<WeightView> v = src.Find(name);
    if (absl::IsNotFound(v.status())) {
      missing = name;
      continue;
    }
    GLMQ_RETURN_IF_ERROR(v.status());
    if (v->encoding != table[i].encoding)
      return absl::InvalidArgumentError(absl::StrCat("tensor '", name, "' must be ",
                                                     pb::Encoding_Name(table[i].encoding)));
    parts[table[i].role == pb::ROLE_KEPT_COLS ? 0 : 1] = *v;
    ++found;
  }
  if (found == 0) return absl::OkStatus();
  if (found == 1)
    return absl::InvalidArgumentError(
        absl::StrCat("tensor '", missing, "' is missing (its companion is present)"));
  const WeightView& cols = parts[0];
  const WeightView& idx = parts[1];
  const int64_t n = idx.cols;
  if (idx.shape.size() != 1 || n < 1 || n >= w->cols || cols.shape.size() != 2 ||
      cols.rows != w->rows || cols.cols != n) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tensors '", cols.name, "' ", ShapeString(cols.shape), " and '", idx.name, "' ",
        ShapeString(idx.shape), " do not fit '", w->name, "' ", ShapeString(w->shape),
        " (want [", w->rows, ", n] and [n], 1 <= n < ", w->cols, ")"));
  }
  GLMQ_RETURN_IF_ERROR(CheckIndices(idx, w->cols));
  w->n_kept = n;
  w->kept_cols = reinterpret_cast<const uint16_t*>(cols.data);
  w->kept_idx = reinterpret_cast<const int32_t*>(idx.data);
  return absl::OkStatus();
}

}  // namespace glmq
