// The one in-memory form of a stored tensor, from the loader to the kernels
// (as gemma.cpp's MatPtr): a non-owning WeightView of its name, encoding,
// group size, logical shape and bytes. A weight source makes it with
// MakeWeightView, which checks the bytes against the encodings table once;
// kernels trust a view they are given. pb::TensorEntry stays the file's
// record of a tensor; the helpers below give its rows, columns and row size.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "schema/glmq.pb.h"

namespace glmq {

using Shape = absl::InlinedVector<int64_t, 4>;

struct WeightView {
  absl::string_view name;  // canonical name; valid while the source lives
  pb::Encoding encoding = pb::ENCODING_UNSPECIFIED;
  int32_t group_size = 0;         // quantized encodings only; 0 = one group per row
  Shape shape;                    // logical, row-major: [out, in] for weights
  int64_t rows = 0;               // product of all dims but the last (1 for a vector)
  int64_t cols = 0;               // the last dim
  const uint8_t* data = nullptr;  // valid while the source lives
  uint64_t size = 0;              // bytes, == EncodedBytes(encoding, group_size, shape)
  // Input columns kept at f16 beside a quantized linear (schema/tensors.h
  // CompanionTable); n_kept == 0 when none. The product is then
  // W·x' + kept_cols·x[kept_idx] with x' = x with the kept columns zeroed.
  int64_t n_kept = 0;
  const uint16_t* kept_cols = nullptr;  // f16 [rows, n_kept]
  const int32_t* kept_idx = nullptr;    // [n_kept], distinct, in [0, cols)
};

// The main weight of `w` (its kept columns not attached) and the dense f16
// [rows, n_kept] view of its kept columns.
WeightView MainWeight(const WeightView& w);
WeightView KeptWeight(const WeightView& w);

// x' and x[:, idx] of n_tokens rows of x [n_tokens, cols]: xz [n_tokens,
// cols], xg [n_tokens, n_kept] (the host reference of the backends' gather).
void SplitKeptColumns(const WeightView& w, const float* x, int64_t n_tokens, float* xz,
                      float* xg);

// A checked view: a known encoding, a valid group size, positive dims and
// `size` equal to the bytes the encoding implies for `shape`. The error
// names the tensor.
absl::StatusOr<WeightView> MakeWeightView(absl::string_view name, pb::Encoding encoding,
                                          int32_t group_size, const Shape& shape, const void* data,
                                          uint64_t size);

// Rows (product of all dims but the last; 1 for a 1-D tensor) and columns
// (the last dim) of a file's tensor, and the bytes of one stored row.
int64_t TensorRows(const pb::TensorEntry& entry);
int64_t TensorCols(const pb::TensorEntry& entry);
absl::StatusOr<uint64_t> RowBytes(const pb::TensorEntry& entry);

// "[4608, 4096]".
std::string ShapeString(absl::Span<const int64_t> shape);
inline std::string ShapeString(const std::vector<int64_t>& shape) {
  return ShapeString(absl::MakeConstSpan(shape));
}

}  // namespace glmq
