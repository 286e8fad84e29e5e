// A token sequence with image rows and explicit RoPE positions: what
// runtime/vision/splice.h builds and Session::ForwardSpliced runs.
#pragma once

#include <cstdint>
#include <vector>

namespace glmq {

struct SplicedSequence {
  std::vector<int32_t> ids;        // [n]: the token of each text row (image rows: the placeholder)
  std::vector<int64_t> image_row;  // [n]: -1 for a text row, else a row of `embeds`
  std::vector<float> embeds;       // [image rows, hidden]: every image's rows in order
  std::vector<int64_t> positions;  // [3, n]: RoPE position streams t | h | w (equal for text)
  // Decoding after the sequence: the token in KV slot s has position s + rope_offset.
  int64_t rope_offset = 0;
  int64_t size() const { return static_cast<int64_t>(ids.size()); }
};

}  // namespace glmq
