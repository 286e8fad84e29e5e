// Causal attention over the block KV cache (runtime/kv_layout.h) on the CPU,
// and the writes into it. KvAttentionReference is the plain definition (one
// query row at a time, two passes over its keys); the tiled version
// (kv_attention_tiled.h: scalar, AVX2, AVX-512, chosen with the dense kernels'
// level) holds no score row: a work item is one kv head x a tile of query
// positions (all heads of the group) x a range of key tiles, walking the keys
// kAttnKeyTile at a time with an online softmax, reading K and V in their
// stored type straight from the blocks. When too few items exist for the
// threads (decode), the keys are split into ranges whose partial (max, sum,
// output) are merged at the end (flash-decoding). Scratch: runtime/
// attention_tiling.h. Tested against the reference in kv_attention_test.cc.
#pragma once

#include <cmath>
#include <cstdint>

#include "core/cpu_features.h"
#include "runtime/backend.h"

namespace glmq::cpu {

// Value d of position pos of kv head `head`, kind 0 = K / 1 = V, as f32
// (int8: q * scale), from the view's layer. pos < n_blocks * block_tokens.
float KvValue(const KvCacheView& cache, int kind, int64_t head, int64_t pos, int64_t d);

// Writes K and V rows (Backend::WriteKv's contract) with the scalar
// conversions (int8: QuantizeKvInt8, the spec's reference quantizer).
void WriteKvRows(const float* k, const float* v, int64_t row_stride, int64_t n_tokens,
                 const AttentionShape& shape, int64_t pos0, const KvCacheView& cache);

// int8 KV: the query is quantized like a KV vector before q . K (symmetric,
// round half away from zero within +-127, one f32 scale per query head,
// specs/vram.md §2), so each
// score is an integer dot product times the two scales; the VNNI kernel
// computes exactly that, the other levels multiply the round-tripped floats.
// QueryInt8Scale is max |x[d] * mul| / 127 (0 for a zero row);
// QueryInt8(x * mul, 1 / scale) is the rounded value.
float QueryInt8Scale(const float* x, float mul, int64_t n);
inline int8_t QueryInt8(float v, float inv_scale) {
  const float r = std::round(v * inv_scale);  // half away from zero, as QuantizeKvInt8
  return static_cast<int8_t>(r >= 127.f ? 127.f : r <= -127.f ? -127.f : r == r ? r : 0.f);
}

// int8 KV: P V takes 8-bit weights (specs/vram.md §2). For each query row
// and each aligned tile of kAttnKeyTile keys, the weights w_j = p_j x (V
// scale of key j) become u_j = round(w_j x PWeightsInt8Inv(max w)) (nearest,
// ties to even; 0..255) and stand for u_j x PWeightsInt8Step(max w), so the VNNI kernel
// sums u_j x (int8 V) in integers; the other levels multiply the same values
// as floats. The softmax sum keeps the unrounded p_j.
inline float PWeightsInt8Inv(float wmax) { return wmax > 0.f ? 255.f / wmax : 0.f; }
inline float PWeightsInt8Step(float wmax) { return wmax / 255.f; }

// Backend::Attention's contract, single-threaded, holding one score row per
// query: the definition the tiled kernels are tested against.
void KvAttentionReference(const float* q, int64_t q_stride, int64_t n_tokens,
                          const AttentionShape& shape, int64_t pos0, const KvCacheView& cache,
                          float* out);

// Backend::Attention's contract on up to n_threads OpenMP threads; scratch:
// AttentionScratchFloats(tiling, n_threads) floats.
using KvAttentionFn = void (*)(const float* q, int64_t q_stride, int64_t n_tokens,
                               const AttentionShape& shape, int64_t pos0, const KvCacheView& cache,
                               float* scratch, float* out, int n_threads);

// The tiled kernel of `level` (falls back to the best level the CPU has
// below it). Head sizes that are not a multiple of 16 run the scalar level.
KvAttentionFn GetKvAttention(SimdLevel level, int64_t head_dim);

namespace internal {
// Defined in kv_attention_{scalar,avx2,avx512}.cc.
KvAttentionFn ScalarKvAttention();
KvAttentionFn Avx2KvAttention();
KvAttentionFn Avx512KvAttention();
// int8 KV with q . K and P V in integers on AVX-512 VNNI
// (kv_attention_avx512vnni.cc) and on AVX2 with AVX-VNNI
// (kv_attention_avxvnni.cc; head_dim a multiple of 32): their packed tile
// is kAttnKeyTile x head_dim bytes on the stack.
KvAttentionFn Avx512VnniKvAttention();
KvAttentionFn AvxVnniKvAttention();
inline constexpr int64_t kMaxVnniHeadDim = 256;
}  // namespace internal

}  // namespace glmq::cpu
