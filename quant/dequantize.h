// Decoding stored tensors back to f32: any encoding of the traits table
// (f32, f16, bf16, q8, q4, q4a). Used by the convert pipeline to read
// quantized .glmq sources and by the runtime for embedding lookups.
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "schema/glmq.pb.h"

namespace glmq {

// Decodes rows [row_begin, row_end) of a [rows, cols] quantized tensor
// (`data` = all of the tensor's bytes) into out[(row_end - row_begin) * cols].
// OpenMP over rows when there are many.
absl::Status DequantizeRows(pb::Encoding encoding, int group_size, int64_t rows, int64_t cols,
                            absl::Span<const uint8_t> data, int64_t row_begin, int64_t row_end,
                            float* out);

// Same for a tensor of the file (rows = product of all dims but the last):
// checks data.size() against EncodedBytes(entry) and the row range.
// Non-quantized encodings (f32/f16/bf16) are converted.
absl::Status DequantizeTensor(const pb::TensorEntry& entry, absl::Span<const uint8_t> data,
                              int64_t row_begin, int64_t row_end, float* out);

// One row (e.g. a token embedding): DequantizeTensor for [row, row + 1).
inline absl::Status DequantizeRow(const pb::TensorEntry& entry, absl::Span<const uint8_t> data,
                                  int64_t row, float* out) {
  return DequantizeTensor(entry, data, row, row + 1, out);
}

}  // namespace glmq
