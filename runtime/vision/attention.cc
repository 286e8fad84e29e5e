#include "runtime/vision/attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace glmq::vision {

void AttentionReference(const float* qkv, const QkvLayout& s, float* out, int n_threads) {
  const int64_t width = s.n_heads * s.head_dim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.head_dim));
  const int64_t jobs = s.n_rows * s.n_heads;
#pragma omp parallel num_threads(n_threads) if (internal::Parallel(s, n_threads))
  {
    std::vector<float> scores(s.n_rows);  // [n_rows] one query's scores
#pragma omp for schedule(dynamic, 16)
    for (int64_t job = 0; job < jobs; ++job) {
      const int64_t t = job / s.n_heads, h = job % s.n_heads;
      const float* q = qkv + t * s.row_stride + h * s.head_dim;
      float mx = -INFINITY;
      for (int64_t j = 0; j < s.n_rows; ++j) {
        const float* k = qkv + j * s.row_stride + width + h * s.head_dim;
        float dot = 0.f;
        for (int64_t d = 0; d < s.head_dim; ++d) dot += q[d] * k[d];
        scores[j] = dot * scale;
        mx = std::max(mx, scores[j]);
      }
      float sum = 0.f;
      for (int64_t j = 0; j < s.n_rows; ++j) {
        scores[j] = std::exp(scores[j] - mx);
        sum += scores[j];
      }
      float* o = out + t * width + h * s.head_dim;
      std::fill(o, o + s.head_dim, 0.f);
      for (int64_t j = 0; j < s.n_rows; ++j) {
        const float* v = qkv + j * s.row_stride + 2 * width + h * s.head_dim;
        const float p = scores[j] / sum;
        for (int64_t d = 0; d < s.head_dim; ++d) o[d] += p * v[d];
      }
    }
  }
}

SimdLevel AttentionAtLevel(SimdLevel level, const float* qkv, const QkvLayout& s, float* out,
                           int n_threads, AttentionScratch* scratch) {
  const CpuFeatures& f = GetCpuFeatures();
  if (level == SimdLevel::kAvx512 && f.avx512 && f.avx2) {
    internal::Avx512Attention()(qkv, s, out, n_threads, scratch);
    return SimdLevel::kAvx512;
  }
  if (level >= SimdLevel::kAvx2 && f.avx2) {
    internal::Avx2Attention()(qkv, s, out, n_threads, scratch);
    return SimdLevel::kAvx2;
  }
  internal::ScalarAttention()(qkv, s, out, n_threads, scratch);
  return SimdLevel::kScalar;
}

void Attention(const float* qkv, const QkvLayout& s, float* out, int n_threads,
               AttentionScratch* scratch) {
  static const SimdLevel level = ActiveSimdLevel();
  AttentionAtLevel(level, qkv, s, out, n_threads, scratch);
}

}  // namespace glmq::vision
