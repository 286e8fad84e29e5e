// Bidirectional (unmasked) multi-head self-attention of the vision towers,
// f32: out = softmax(q k^T / sqrt(head_dim)) v per head, over all n rows.
// AttentionReference is the plain definition (one score row per query);
// Attention is tiled with an online softmax (running max and sum per query,
// rescaled per key block), so memory stays O(n * hidden) instead of
// O(n^2) per head; its SIMD levels (scalar, AVX2, AVX-512, chosen at run
// time) are tested against the reference in attention_test.cc.
#pragma once

#include <cstdint>
#include <vector>

#include "core/cpu_features.h"

namespace glmq::vision {

// Where q, k and v sit: row t of qkv holds q at [0, n_heads * head_dim),
// k and v in the two following blocks of n_heads * head_dim (rows q|k|v as
// the fused projections produce them); head h at offset h * head_dim inside
// each block. Rows are row_stride floats apart.
struct QkvLayout {
  int64_t n_rows = 0;
  int64_t n_heads = 0;
  int64_t head_dim = 0;
  int64_t row_stride = 0;
};

// out: [n_rows, n_heads * head_dim], head h at columns [h * head_dim, ...).
void AttentionReference(const float* qkv, const QkvLayout& s, float* out, int n_threads);

// Packed keys and values, reused between calls (grown as needed). Not
// shareable between concurrent calls.
struct AttentionScratch {
  std::vector<float> kt;  // [n_heads, head_dim, n_pad] keys transposed
  std::vector<float> v;   // [n_heads, n_pad, head_dim_pad] values
};

// The tiled attention at the active SIMD level (core/cpu_features.h).
void Attention(const float* qkv, const QkvLayout& s, float* out, int n_threads,
               AttentionScratch* scratch);

// The tiled attention at `level` (falls back to the best level the CPU has
// below it); returns the level that ran. Tests and benchmarks.
SimdLevel AttentionAtLevel(SimdLevel level, const float* qkv, const QkvLayout& s, float* out,
                           int n_threads, AttentionScratch* scratch);

namespace internal {
// Whether the attention of s is worth an OpenMP team: below ~2^18
// multiply-adds a fork/join costs more than it saves (and on a loaded
// machine a barrier can cost a scheduler tick).
inline bool Parallel(const QkvLayout& s, int n_threads) {
  return n_threads > 1 && s.n_rows * s.n_rows * s.n_heads * s.head_dim >= (int64_t{1} << 18);
}
using AttentionFn = void (*)(const float* qkv, const QkvLayout& s, float* out, int n_threads,
                             AttentionScratch* scratch);
// Defined in attention_{scalar,avx2,avx512}.cc.
AttentionFn ScalarAttention();
AttentionFn Avx2Attention();
AttentionFn Avx512Attention();
}  // namespace internal

}  // namespace glmq::vision
