// The traits table of tensor encodings: one row per pb::Encoding. Every
// size computation in glmq (writer, reader validation, planner) goes through
// here. Byte layouts are normative in specs/encodings.md.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "format/glmq.pb.h"

namespace glmq {

struct EncodingTraits {
  pb::Encoding encoding;
  absl::string_view name;    // "f32", "f16", "bf16", "q8", "q4", "q4a", "i32"
  bool quantized;            // group-quantized (needs group_size)
  int value_bits;            // bits per stored value: 32, 16, 8, 4
  int group_header_bytes;    // per group: f16 scale (2), or f16 scale + f16 min (4)
};

// nullptr for ENCODING_UNSPECIFIED or an unknown value.
const EncodingTraits* FindEncoding(pb::Encoding encoding);
const EncodingTraits* FindEncodingByName(absl::string_view name);
const std::vector<EncodingTraits>& AllEncodings();

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

}  // namespace glmq
