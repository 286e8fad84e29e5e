#include "schema/weight.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/status.h"
#include "schema/encodings.h"

namespace glmq {

absl::StatusOr<WeightView> MakeWeightView(absl::string_view name, pb::Encoding encoding,
                                          int32_t group_size, const Shape& shape, const void* data,
                                          uint64_t size) {
  auto bad = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("tensor '", name, "': ", what));
  };
  if (shape.empty()) return bad("no shape");
  for (int64_t d : shape)
    if (d <= 0) return bad(absl::StrCat("shape ", ShapeString(shape), " has a dimension <= 0"));
  const std::vector<int64_t> dims(shape.begin(), shape.end());
  absl::StatusOr<uint64_t> want = EncodedBytes(encoding, group_size, dims);
  if (!want.ok()) return bad(want.status().message());
  if (size != *want || data == nullptr) {
    return bad(absl::StrCat(pb::Encoding_Name(encoding), " ", ShapeString(shape), " needs ", *want,
                            " bytes, has ", data == nullptr ? 0 : size));
  }
  WeightView v;
  v.name = name;
  v.encoding = encoding;
  v.group_size = group_size;
  v.shape = shape;
  v.cols = shape.back();
  v.rows = 1;
  for (size_t i = 0; i + 1 < shape.size(); ++i) v.rows *= shape[i];
  v.data = static_cast<const uint8_t*>(data);
  v.size = size;
  return v;
}

int64_t TensorCols(const pb::TensorEntry& e) {
  return e.shape_size() == 0 ? 1 : e.shape(e.shape_size() - 1);
}

int64_t TensorRows(const pb::TensorEntry& e) {
  int64_t rows = 1;
  for (int i = 0; i + 1 < e.shape_size(); ++i) rows *= e.shape(i);
  return rows;
}

absl::StatusOr<uint64_t> RowBytes(const pb::TensorEntry& e) {
  return EncodedBytes(e.encoding(), e.group_size(), {1, TensorCols(e)});
}

std::string ShapeString(absl::Span<const int64_t> shape) {
  return "[" + absl::StrJoin(shape, ", ") + "]";
}

WeightView MainWeight(const WeightView& w) {
  WeightView m = w;
  m.n_kept = 0;
  m.kept_cols = nullptr;
  m.kept_idx = nullptr;
  return m;
}

WeightView KeptWeight(const WeightView& w) {
  WeightView k;
  k.name = w.name;
  k.encoding = pb::ENCODING_F16;
  k.shape = {w.rows, w.n_kept};
  k.rows = w.rows;
  k.cols = w.n_kept;
  k.data = reinterpret_cast<const uint8_t*>(w.kept_cols);
  k.size = static_cast<uint64_t>(w.rows * w.n_kept) * 2;
  return k;
}

void SplitKeptColumns(const WeightView& w, const float* x, int64_t n_tokens, float* xz,
                      float* xg) {
  for (int64_t t = 0; t < n_tokens; ++t) {
    std::copy(x + t * w.cols, x + (t + 1) * w.cols, xz + t * w.cols);
    for (int64_t i = 0; i < w.n_kept; ++i) {
      xg[t * w.n_kept + i] = x[t * w.cols + w.kept_idx[i]];
      xz[t * w.cols + w.kept_idx[i]] = 0.f;
    }
  }
}

}  // namespace glmq
