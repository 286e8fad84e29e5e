// Checks of one pb::TensorEntry shared by the writer (before writing) and
// the reader (before use): name, encoding, shape, group size, and the byte
// size those imply. Offsets and checksums are checked by the reader itself.
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "schema/glmq.pb.h"

namespace glmq {

// Most dimensions a tensor may have.
inline constexpr int kGlmqMaxRank = 8;

// Returns the number of bytes the entry's encoding, group size and shape
// imply (quant/encodings.h EncodedBytes). Errors read
// "<where>: tensor '<name>': <what is wrong>".
absl::StatusOr<uint64_t> CheckTensorEntry(const pb::TensorEntry& entry, absl::string_view where);

// Number of logical values (product of the shape); 0 for an empty shape.
uint64_t TensorNumel(const pb::TensorEntry& entry);

}  // namespace glmq
