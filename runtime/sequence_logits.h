// Logits of one token sequence for parity checks at long context (`glmq
// logits`): the ids run as ONE sequence from the session's current position
// (a fresh session: position 0), and the float32 logits rows of the last
// `last` tokens (all when 0) go to an .npy [rows, padded_vocab] as each
// prefill chunk produces them, so memory stays at one chunk's logits.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "runtime/session.h"

namespace glmq {

// Error (naming the path) if the file cannot be written; InvalidArgument if
// `last` is negative or above ids.size(); Forward's errors otherwise.
absl::Status WriteSequenceLogits(Session& session, absl::Span<const int32_t> ids, int64_t last,
                                 const std::string& npy_path);

}  // namespace glmq
