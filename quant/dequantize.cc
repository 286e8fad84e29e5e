#include "quant/dequantize.h"

#include "core/dtype.h"
#include "core/status.h"
#include "schema/encodings.h"
#include "quant/reference.h"

namespace glmq {

absl::Status DequantizeRows(pb::Encoding encoding, int group_size, int64_t rows, int64_t cols,
                            absl::Span<const uint8_t> data, int64_t row_begin, int64_t row_end,
                            float* out) {
  if (row_begin < 0 || row_end < row_begin || row_end > rows)
    return absl::OutOfRangeError(
        absl::StrCat("rows [", row_begin, ", ", row_end, ") of a tensor with ", rows, " rows"));
  const EncodingTraits* t = FindEncoding(encoding);
  if (t == nullptr)
    return absl::InvalidArgumentError(absl::StrCat("unknown encoding ", static_cast<int>(encoding)));
  if (!t->quantized) {
    DType dt;
    if (!DenseDType(encoding, &dt))
      return absl::InvalidArgumentError(absl::StrCat("cannot decode ", t->name, " to f32"));
    const uint64_t esize = DTypeSize(dt);
    if (data.size() != static_cast<uint64_t>(rows) * cols * esize)
      return absl::InvalidArgumentError(
          absl::StrCat(data.size(), " bytes for a [", rows, ", ", cols, "] ", t->name, " tensor"));
    ConvertToF32(dt, data.data() + static_cast<uint64_t>(row_begin) * cols * esize, out,
                 (row_end - row_begin) * cols);
    return absl::OkStatus();
  }
  GLMQ_ASSIGN_OR_RETURN(GroupGeometry geo, GetGroupGeometry(encoding, group_size, cols));
  if (data.size() != static_cast<uint64_t>(rows) * geo.row_bytes)
    return absl::InvalidArgumentError(absl::StrCat(data.size(), " bytes for a [", rows, ", ", cols,
                                                   "] ", t->name, " tensor (expected ",
                                                   static_cast<uint64_t>(rows) * geo.row_bytes,
                                                   ")"));
  const int64_t n = row_end - row_begin;
#pragma omp parallel for schedule(static) if (n * cols > (1 << 16))
  for (int64_t r = 0; r < n; ++r)
    DequantizeRowRef(geo, data.data() + (row_begin + r) * geo.row_bytes, cols, out + r * cols);
  return absl::OkStatus();
}

absl::Status DequantizeTensor(const pb::TensorEntry& entry, absl::Span<const uint8_t> data,
                              int64_t row_begin, int64_t row_end, float* out) {
  if (entry.shape_size() == 0)
    return absl::InvalidArgumentError(absl::StrCat("tensor ", entry.name(), " has no shape"));
  int64_t rows = 1;
  for (int i = 0; i + 1 < entry.shape_size(); ++i) rows *= entry.shape(i);
  const int64_t cols = entry.shape(entry.shape_size() - 1);
  return Annotate(DequantizeRows(entry.encoding(), entry.group_size(), rows, cols, data,
                                 row_begin, row_end, out),
                  absl::StrCat("tensor ", entry.name()));
}

}  // namespace glmq
