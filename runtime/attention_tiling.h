// How the CPU attention over the KV cache (runtime/cpu/kv_attention.h) is
// tiled, and so how much scratch it needs: ComputeBufferSizes
// (runtime/buffers.h) sizes the session's attention scratch with
// AttentionScratchFloats, and the kernels carve it up with the same
// AttentionTiling. Nothing here depends on the context length: a query tile
// walks the keys one key tile at a time with an online softmax, and decode
// splits the keys between threads whose partial results are merged.
#pragma once

#include <algorithm>
#include <cstdint>

namespace glmq {

// Keys per online-softmax step (scores [rows, 64] and the 64 positions'
// K and V stay in L1/L2). Divides kKvBlockTokens.
inline constexpr int64_t kAttnKeyTile = 64;
// Query rows (query positions x heads of one kv group) per work item.
inline constexpr int64_t kAttnRows = 64;
// Most key ranges one query tile is split into (flash-decoding); bounds the
// partial results to kAttnMaxSplits x n_heads rows.
inline constexpr int64_t kAttnMaxSplits = 64;

struct AttentionTiling {
  int64_t n_heads = 0, n_kv_heads = 0, head_dim = 0;

  int64_t group() const { return n_heads / n_kv_heads; }
  // Values per row of o, v (a multiple of 16 floats: whole AVX-512 vectors).
  int64_t head_dim_pad() const { return (head_dim + 15) / 16 * 16; }
  // Query positions per work item; rows = query_tile() * group().
  int64_t query_tile() const { return std::max<int64_t>(1, kAttnRows / group()); }
  int64_t rows() const { return query_tile() * group(); }

  // One thread's tiles, in this order (floats); K and V are read straight
  // from the cache blocks in their stored type:
  //   q [rows, head_dim_pad]   scaled queries
  //   o [rows, head_dim_pad]   unnormalized outputs
  //   s [rows, kAttnKeyTile]   scores, then probabilities
  //   m, l [rows]              running max and sum
  int64_t ThreadFloats() const {
    const int64_t r = rows();
    return 2 * r * head_dim_pad() + r * kAttnKeyTile + 2 * r;
  }
  // Partial (o, m, l) rows of split key ranges: [kAttnMaxSplits * n_heads, head_dim_pad + 2].
  int64_t PartialFloats() const { return kAttnMaxSplits * n_heads * (head_dim_pad() + 2); }
};

// Scratch of one Attention call on n_threads threads.
inline int64_t AttentionScratchFloats(const AttentionTiling& t, int n_threads) {
  return n_threads * t.ThreadFloats() + t.PartialFloats();
}

}  // namespace glmq
