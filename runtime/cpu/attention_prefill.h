// Causal attention of a prefill chunk (two or more query tokens) over the
// KV cache, tiled over queries and keys with an online softmax (running max
// and sum per query row, rescaled per key block), so that no score row longer
// than one key block is ever held, whatever the context (4K-32K prompts).
// The query heads that share a kv head (GQA) and kQueryTokens tokens form
// one job's rows, so each key and value block, converted to f32 once, serves
// all of them. Same contract as Backend::Attention (runtime/backend.h);
// CpuBackend::Attention sends n_tokens > 1 here. SIMD levels (scalar, AVX2,
// AVX-512) differ from the plain softmax only by f32 rounding and exp's
// 2 ulp (attention_prefill_test.cc).
#pragma once

#include <cstdint>

#include "core/cpu_features.h"
#include "runtime/backend.h"

namespace glmq::cpu {

// out[t, h * head_dim + d] = sum_j softmax_j(q_t,h . k_j / sqrt(head_dim))
// v_j[d] over cache positions j in [0, pos0 + t], kv head h / (n_heads /
// n_kv_heads). q: rows of q_stride floats; out: [n_tokens, n_heads *
// head_dim]. `level` as the caller's kernel table (falls back to what the
// CPU has). Threads take (kv head, query block) jobs.
void PrefillAttention(SimdLevel level, const float* q, int64_t q_stride, int64_t n_tokens,
                      const AttentionShape& shape, int64_t pos0, const KvCacheView& cache,
                      float* out, int n_threads);

namespace internal {
using PrefillAttentionFn = void (*)(const float* q, int64_t q_stride, int64_t n_tokens,
                                    const AttentionShape& shape, int64_t pos0,
                                    const KvCacheView& cache, float* out, int n_threads);
// Defined in attention_prefill_{scalar,avx2,avx512}.cc.
PrefillAttentionFn ScalarPrefillAttention();
PrefillAttentionFn Avx2PrefillAttention();
PrefillAttentionFn Avx512PrefillAttention();
}  // namespace internal

}  // namespace glmq::cpu
