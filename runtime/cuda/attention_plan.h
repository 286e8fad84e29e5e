// How a CUDA attention launch is cut up (host logic, tested on the CPU):
// a block takes `query_tile` query positions of up to `heads_per_block`
// query heads of one kv group (GQA: the group's K/V tiles are loaded once
// for all of them), walks its share of the keys in tiles of kAttnKeys with
// an online softmax, and writes a partial (o, m, l) row per (token, head,
// split); a second kernel merges the splits. Decode (few queries) splits
// the keys so that the launch fills the GPU (flash-decoding).
#pragma once

#include <algorithm>
#include <cstdint>

namespace glmq::cuda {

inline constexpr int64_t kAttnKeys = 32;       // keys per tile (one per lane)
inline constexpr int64_t kAttnMaxSplits = 256;
inline constexpr int64_t kAttnMaxHeadsPerBlock = 8;

struct AttnPlan {
  int64_t query_tile = 1;       // 1 or 4
  int64_t heads_per_block = 1;  // warps per block
  int64_t head_blocks = 1;      // blocks per kv group
  int64_t grid_x = 1, grid_y = 1, n_splits = 1;
  int64_t partial_floats = 0;   // [n_tokens, n_heads, n_splits, head_dim + 2]
  int64_t smem_bytes = 0;       // K^T and V tiles, f32, and the block's queries
};

// n_keys: keys the last query sees (pos0 + n_tokens); sms: the device's
// multiprocessors (the split count aims at two blocks per SM).
inline AttnPlan PlanAttention(int64_t n_tokens, int64_t n_heads, int64_t n_kv_heads,
                              int64_t head_dim, int64_t n_keys, int64_t sms) {
  AttnPlan p;
  const int64_t group = n_heads / n_kv_heads;
  p.query_tile = n_tokens >= 4 ? 4 : 1;
  p.heads_per_block = std::min(group, kAttnMaxHeadsPerBlock);
  p.head_blocks = (group + p.heads_per_block - 1) / p.heads_per_block;
  p.grid_x = (n_tokens + p.query_tile - 1) / p.query_tile;
  p.grid_y = n_kv_heads * p.head_blocks;
  const int64_t blocks = p.grid_x * p.grid_y;
  const int64_t tiles = (n_keys + kAttnKeys - 1) / kAttnKeys;
  const int64_t want = (2 * std::max<int64_t>(sms, 1) + blocks - 1) / blocks;
  p.n_splits = std::clamp<int64_t>(want, 1, std::min(tiles, kAttnMaxSplits));
  p.partial_floats = n_tokens * n_heads * p.n_splits * (head_dim + 2);
  p.smem_bytes = 4 * (2 * kAttnKeys * head_dim + p.heads_per_block * p.query_tile * head_dim);
  return p;
}

}  // namespace glmq::cuda
