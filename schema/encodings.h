// The traits table of tensor encodings: one row per pb::Encoding. Every
// size computation in glmq (writer, reader validation, planner) goes through
// here. Byte layouts are normative in specs/encodings.md.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/dtype.h"
#include "schema/glmq.pb.h"

namespace glmq {

struct EncodingTraits {
  pb::Encoding encoding;
  absl::string_view name;    // "f32", "f16", "bf16", "q8", "q4", "q4a", "i32"
  bool quantized;            // group-quantized (needs group_size)
  int value_bits;            // bits per stored value: 32, 16, 8, 4
  int group_header_bytes;    // per group: f16 scale (2), or f16 scale + f16 min (4)
  // Quantized only: the stored integer range (q8: -127..127 two's complement
  // int8; q4: nibble 0..15 with q = nibble - value_offset) and whether the
  // group carries a min (value = min + scale * nibble).
  int q_min = 0;             // signed value range after removing the offset
  int q_max = 0;
  int value_offset = 0;      // q4: nibble - 8 = signed value; q4a: 0
  bool has_min = false;
};

// nullptr for ENCODING_UNSPECIFIED or an unknown value.
const EncodingTraits* FindEncoding(pb::Encoding encoding);
const EncodingTraits* FindEncodingByName(absl::string_view name);
const std::vector<EncodingTraits>& AllEncodings();

// True if the encoding is dense (f32, f16, bf16), with the DType it maps to.
bool DenseDType(pb::Encoding e, DType* out);

// Group sizes a quantized encoding accepts; 0 means one group per row.
bool IsValidGroupSize(int group_size);

// Effective group size for a row of `cols` values: group_size, or cols if 0.
inline int64_t EffectiveGroupSize(int group_size, int64_t cols) {
  return group_size == 0 ? cols : group_size;
}

// Bytes of a tensor of `shape` (rows = product of all dims but the last,
// cols = last dim). Quantized: every row holds ceil(cols / g) groups, the
// last one zero-padded to g values; each group costs header + g*bits/8
// bytes. Error (naming what is wrong) for a bad group size or shape.
absl::StatusOr<uint64_t> EncodedBytes(pb::Encoding encoding, int group_size,
                                      const std::vector<int64_t>& shape);
absl::StatusOr<uint64_t> EncodedBytes(const pb::TensorEntry& entry);

// Per-row geometry of a quantized encoding (specs/encodings.md):
// group_size g (per-row groups of odd width are padded to even for 4-bit),
// groups per row, bytes per group and per row. Error for a bad group size,
// a non-quantized encoding or cols <= 0.
struct GroupGeometry {
  const EncodingTraits* traits = nullptr;
  int64_t g = 0;           // values per group, padding included
  int64_t n_groups = 0;    // ceil(cols / g)
  int64_t group_bytes = 0; // header + packed values
  int64_t row_bytes = 0;   // n_groups * group_bytes
};
absl::StatusOr<GroupGeometry> GetGroupGeometry(pb::Encoding encoding, int group_size,
                                               int64_t cols);

}  // namespace glmq
