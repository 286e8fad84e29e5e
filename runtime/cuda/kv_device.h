// How the CUDA kernels address one layer of a KV cache, whatever its
// layout: a table of blocks of `block_tokens` positions (one block holding
// the whole context is the flat layout) with the byte offset of head 0 of
// K and V (and of their int8 scales) inside a block and element strides
// for a position and a dimension. The block layout of specs/vram.md §2
// (runtime/kv_layout.h) is K [D, B] (position stride 1, dimension stride
// B), V [B, D]; ForBlockLayout fills it from the layout's numbers.
// Included by .cu and .cc files: plain arithmetic, no CUDA types.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define GLMQ_HD __host__ __device__ __forceinline__
#else
#define GLMQ_HD inline
#endif

namespace glmq::cuda {

// The element types, in runtime/kv_layout.h KvType order.
enum class KvElem : int { kF32 = 0, kF16 = 1, kBF16 = 2, kInt8 = 3 };

inline int KvElemBytes(KvElem e) {
  return e == KvElem::kF32 ? 4 : e == KvElem::kInt8 ? 1 : 2;
}

struct DevKv {
  void* const* k_blocks = nullptr;  // device array of device pointers
  void* const* v_blocks = nullptr;  // (the same table for the block layout)
  int64_t n_blocks = 0;
  int64_t block_tokens = 0;
  int64_t head_dim = 0;
  KvElem elem = KvElem::kBF16;
  // Bytes from a block's start to head 0 of this layer's K / V values, and
  // between heads.
  uint64_t k_off = 0, v_off = 0, head_bytes = 0;
  // Element strides of a position and a dimension inside one head.
  int64_t k_pos = 0, k_dim = 0, v_pos = 0, v_dim = 0;
  // int8 only: f16 scales, [block_tokens] per head.
  uint64_t k_scale_off = 0, v_scale_off = 0, scale_head_bytes = 0;

  // Element index (not bytes) of (position-in-block p, dimension d).
  GLMQ_HD int64_t KIndex(int64_t p, int64_t d) const { return p * k_pos + d * k_dim; }
  GLMQ_HD int64_t VIndex(int64_t p, int64_t d) const { return p * v_pos + d * v_dim; }
  GLMQ_HD uint64_t KHead(int64_t h) const { return k_off + h * head_bytes; }
  GLMQ_HD uint64_t VHead(int64_t h) const { return v_off + h * head_bytes; }
  GLMQ_HD uint64_t KScale(int64_t h, int64_t p) const {
    return k_scale_off + h * scale_head_bytes + 2 * p;
  }
  GLMQ_HD uint64_t VScale(int64_t h, int64_t p) const {
    return v_scale_off + h * scale_head_bytes + 2 * p;
  }
};

// The block layout (specs/vram.md §2, runtime/kv_layout.h) for `layer`:
// inside a block, i = (layer * 2 + kind) * n_kv_heads + h; values at
// i * B * D * value_bytes (K [D, B], V [B, D]); int8 scales at
// 2 * L * H * B * D + i * B * 2.
inline DevKv ForBlockLayout(KvElem elem, int64_t n_layers, int64_t n_kv_heads, int64_t head_dim,
                            int64_t block_tokens, int64_t layer) {
  DevKv kv;
  kv.block_tokens = block_tokens;
  kv.head_dim = head_dim;
  kv.elem = elem;
  const uint64_t vb = KvElemBytes(elem);
  kv.head_bytes = block_tokens * head_dim * vb;
  kv.k_off = (layer * 2 + 0) * n_kv_heads * kv.head_bytes;
  kv.v_off = (layer * 2 + 1) * n_kv_heads * kv.head_bytes;
  kv.k_pos = 1;
  kv.k_dim = block_tokens;
  kv.v_pos = head_dim;
  kv.v_dim = 1;
  if (elem == KvElem::kInt8) {
    const uint64_t values = 2 * n_layers * n_kv_heads * block_tokens * head_dim;
    kv.scale_head_bytes = block_tokens * 2;
    kv.k_scale_off = values + (layer * 2 + 0) * n_kv_heads * kv.scale_head_bytes;
    kv.v_scale_off = values + (layer * 2 + 1) * n_kv_heads * kv.scale_head_bytes;
  }
  return kv;
}

// The flat layout (separate K and V, each [n_kv_heads, context, head_dim],
// no int8): one block of `context` positions.
inline DevKv ForFlatLayout(KvElem elem, int64_t head_dim, int64_t context) {
  DevKv kv;
  kv.n_blocks = 1;
  kv.block_tokens = context;
  kv.head_dim = head_dim;
  kv.elem = elem;
  kv.head_bytes = context * head_dim * KvElemBytes(elem);
  kv.k_pos = kv.v_pos = head_dim;
  kv.k_dim = kv.v_dim = 1;
  return kv;
}

}  // namespace glmq::cuda
