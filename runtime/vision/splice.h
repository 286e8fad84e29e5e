// Image embeddings spliced into a prompt's token sequence, with the RoPE
// positions each generation gives them. Semantics:
// ../shared/fixtures/README.md, "Vision models".
//
// glm-4v-9b (LAYOUT_CHATGLM_VISION): each `boi, placeholder, eoi` triple of
// the ids is replaced by the tower's output (boi vector, the image's tokens,
// eoi vector). The boi vector keeps boi's position, every image token shares
// boi + 1, the eoi vector gets boi + 2, later text keeps its original index;
// a decoded token with original index t sits at KV slot t + (rows added).
// GLM-4.1V (LAYOUT_GLM4V): each run of <|image|> ids is replaced, token by
// token, by one image's merged tokens; 3-D M-RoPE positions (t, h, w): text
// rows carry the same value on the three streams, continuing from the
// previous maximum + 1; image rows (0, row, col) + start; decode positions
// are cache length + rope_delta.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "runtime/sequence.h"
#include "schema/glmq.pb.h"

namespace glmq {

// One image as the tower handed it over.
struct ImageEmbeds {
  std::vector<float> values;  // [rows, out_hidden]
  int64_t rows = 0;
  // GLM-4.1V: the merged token grid (rows = grid_h * grid_w for one frame).
  int64_t grid_h = 0, grid_w = 0;
};

// Splices `images` (in order) into `ids`. Errors: a text-only model, more or
// fewer images than the prompt has slots, a malformed slot (glm-4v: boi not
// followed by one placeholder and eoi), a size that does not match (rows,
// width).
absl::StatusOr<SplicedSequence> SpliceImages(const pb::HParams& hp, absl::Span<const int32_t> ids,
                                             const std::vector<ImageEmbeds>& images);

// The image slots (glm-4v: boi tokens; GLM-4.1V: runs of <|image|>) in ids.
int64_t CountImageSlots(const pb::HParams& hp, absl::Span<const int32_t> ids);

}  // namespace glmq
