// PrefillAttention's dispatch on the SIMD level.
#include "runtime/cpu/attention_prefill.h"

namespace glmq::cpu {

void PrefillAttention(SimdLevel level, const float* q, int64_t q_stride, int64_t n_tokens,
                      const AttentionShape& shape, int64_t pos0, const KvCacheView& cache,
                      float* out, int n_threads) {
  const CpuFeatures& f = GetCpuFeatures();
  internal::PrefillAttentionFn fn = internal::ScalarPrefillAttention();
  if (level == SimdLevel::kAvx512 && f.avx512) {
    fn = internal::Avx512PrefillAttention();
  } else if (level >= SimdLevel::kAvx2 && f.avx2) {
    fn = internal::Avx2PrefillAttention();
  }
  fn(q, q_stride, n_tokens, shape, pos0, cache, out, n_threads);
}

}  // namespace glmq::cpu
