// glmq group-quantized rows <-> ggml blocks of 32 (Q8_0, Q4_0, Q4_1), and
// ggml's own dequantization of those blocks, written from its published
// layout (ggml-common.h / ggml-quants.c dequantize_row_*) as the reference
// that exported bytes are checked against.
//
// Every 32-value block of a glmq row lies inside one group when the group
// size is a multiple of 32 (or the whole row, of a multiple of 32 values),
// so the block takes that group's header (f16 scale, and f16 min for q4a)
// unchanged and its 32 codes unchanged: decoded values are bit-identical.
// Only the nibble order differs for groups over 32 (glmq packs value i with
// value i + g/2, ggml value j with value j + 16 of the block).
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "export/gguf_types.h"
#include "schema/glmq.pb.h"

namespace glmq::gguf {

// True if rows of `cols` values of (encoding, group_size) map exactly onto
// blocks of 32 (cols % 32 == 0 and g % 32 == 0).
bool MapsToBlocks(pb::Encoding encoding, int group_size, int64_t cols);

// Converts `rows` glmq rows (`in`, RowBytes each) of a q8/q4/q4a tensor into
// the blocks of `TensorTypeForEncoding(encoding)` (`out`, TypeRowBytes each).
absl::Status GlmqRowsToBlocks(pb::Encoding encoding, int group_size, int64_t cols,
                              const uint8_t* in, int64_t rows, uint8_t* out);

// The inverse: blocks of 32 back into glmq rows of `group_size` (the
// exporter records it in the key glmq.tensor_group_sizes). Error, naming
// the row and group, if the blocks of one group do not all carry the same
// header: they then cannot have come from one glmq group.
absl::Status BlocksToGlmqRows(pb::Encoding encoding, int group_size, int64_t cols,
                              const uint8_t* in, int64_t rows, uint8_t* out);

// ggml's dequantization of `n` values (a multiple of 32) of Q8_0 / Q4_0 /
// Q4_1 blocks, or the conversion of F32 / F16 / BF16 values.
absl::Status DequantizeGgml(TensorType type, const uint8_t* data, int64_t n, float* out);

}  // namespace glmq::gguf
