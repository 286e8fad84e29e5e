// The one validator of canonical hyperparameters (pb::HParams), used by
// convert, the runtime loader, the planner, the synthesizer and verify, and
// the physical limits it enforces, so that every size derived from a model
// fits in 64-bit arithmetic. Layout names live here too.
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "schema/glmq.pb.h"

namespace glmq {

// Upper bounds of the hyperparameters: far above every GLM-4 (GLM-4-32B:
// 61 layers, hidden 6144, ffn 23040, vocab 151552; glm-4-9b-chat-1m:
// 1,048,576 positions) and low enough that products of sizes stay exact.
inline constexpr int64_t kMaxLayers = 1024;
inline constexpr int64_t kMaxWidth = int64_t{1} << 22;  // hidden, ffn, vocab, vision widths
inline constexpr int64_t kMaxHeads = 4096;              // n_heads, n_kv_heads, head_dim
inline constexpr int64_t kMaxContext = int64_t{1} << 30;

// Checks every field the model's tensors and forward pass depend on: the
// layout, positive sizes within the limits above, n_kv_heads dividing
// n_heads, RoPE (even rope_dims <= head_dim, interleaved, positive finite
// base), the layout's norms per layer (4 for glm4 and glm4v, else 2), a positive finite norm_eps,
// and the vision fields of vision layouts. The error names the first bad field: "hparams: field
// 'n_kv_heads' is 0 (must be positive)".
absl::Status ValidateHParams(const pb::HParams& hp);

// "chatglm", "glm", "glm4", "chatglm-vision", "glm4v"; "unspecified" otherwise.
absl::string_view LayoutName(pb::Layout layout);
bool IsVisionLayout(pb::Layout layout);

}  // namespace glmq
