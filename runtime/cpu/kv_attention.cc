#include "runtime/cpu/kv_attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/dtype.h"
#include "runtime/attention_tiling.h"

namespace glmq::cpu {
namespace {

// Address of value d of (kind, head, pos) in its block: K is [head_dim, B],
// V is [B, head_dim] (runtime/kv_layout.h).
uint8_t* ValueAddress(const KvCacheView& c, int kind, int64_t head, int64_t pos, int64_t d) {
  const KvLayout& l = *c.layout;
  uint8_t* block = static_cast<uint8_t*>(c.blocks[pos / l.block_tokens]);
  const int64_t p = pos % l.block_tokens;
  const int64_t index = kind == 0 ? d * l.block_tokens + p : p * l.head_dim + d;
  return block + l.ValuesOffset(c.layer, kind, head) + index * l.value_bytes();
}

uint16_t* ScaleAddress(const KvCacheView& c, int kind, int64_t head, int64_t pos) {
  const KvLayout& l = *c.layout;
  uint8_t* block = static_cast<uint8_t*>(c.blocks[pos / l.block_tokens]);
  return reinterpret_cast<uint16_t*>(block + l.ScalesOffset(c.layer, kind, head)) +
         pos % l.block_tokens;
}

// One (kind, head, pos) vector of head_dim values: K a column of its
// [head_dim, B] tile (stride B), V a row.
void WriteVector(const KvCacheView& c, int kind, int64_t head, int64_t pos, const float* x) {
  const KvLayout& l = *c.layout;
  uint8_t* dst = ValueAddress(c, kind, head, pos, 0);
  const int64_t stride = (kind == 0 ? l.block_tokens : 1) * l.value_bytes();
  switch (l.type) {
    case KvType::kF32:
      for (int64_t d = 0; d < l.head_dim; ++d) std::memcpy(dst + d * stride, &x[d], 4);
      return;
    case KvType::kF16:
      for (int64_t d = 0; d < l.head_dim; ++d) {
        const uint16_t h = F32ToF16(x[d]);
        std::memcpy(dst + d * stride, &h, 2);
      }
      return;
    case KvType::kBF16:
      for (int64_t d = 0; d < l.head_dim; ++d) {
        const uint16_t h = F32ToBf16(x[d]);
        std::memcpy(dst + d * stride, &h, 2);
      }
      return;
    case KvType::kInt8: {
      thread_local std::vector<int8_t> q;
      q.resize(l.head_dim);
      QuantizeKvInt8(x, l.head_dim, q.data(), ScaleAddress(c, kind, head, pos));
      for (int64_t d = 0; d < l.head_dim; ++d) dst[d * stride] = static_cast<uint8_t>(q[d]);
      return;
    }
  }
}

// o += sum_j p_j V_j over int8 V with the 8-bit weights (PWeightsInt8Inv).
void Int8WeightedSum(const KvCacheView& c, int64_t g, int64_t n_pos, const float* p, float* o) {
  const int64_t hd = c.layout->head_dim;
  std::vector<float> w(kAttnKeyTile);
  for (int64_t j0 = 0; j0 < n_pos; j0 += kAttnKeyTile) {
    const int64_t n = std::min(kAttnKeyTile, n_pos - j0);
    float wmax = 0.f;
    for (int64_t j = 0; j < n; ++j)
      wmax = std::max(wmax, w[j] = p[j0 + j] * F16ToF32(*ScaleAddress(c, 1, g, j0 + j)));
    const float inv = PWeightsInt8Inv(wmax), step = PWeightsInt8Step(wmax);
    for (int64_t j = 0; j < n; ++j) {
      const float u = std::nearbyint(w[j] * inv) * step;
      const int8_t* v = reinterpret_cast<const int8_t*>(ValueAddress(c, 1, g, j0 + j, 0));
      for (int64_t d = 0; d < hd; ++d) o[d] += u * static_cast<float>(v[d]);
    }
  }
}

}  // namespace

float KvValue(const KvCacheView& c, int kind, int64_t head, int64_t pos, int64_t d) {
  const uint8_t* p = ValueAddress(c, kind, head, pos, d);
  uint16_t h;
  switch (c.layout->type) {
    case KvType::kF32: {
      float f;
      std::memcpy(&f, p, 4);
      return f;
    }
    case KvType::kF16:
      std::memcpy(&h, p, 2);
      return F16ToF32(h);
    case KvType::kBF16:
      std::memcpy(&h, p, 2);
      return Bf16ToF32(h);
    case KvType::kInt8:
      return static_cast<float>(*reinterpret_cast<const int8_t*>(p)) *
             F16ToF32(*ScaleAddress(c, kind, head, pos));
  }
  return 0.f;
}

void WriteKvRows(const float* k, const float* v, int64_t row_stride, int64_t n_tokens,
                 const AttentionShape& s, int64_t pos0, const KvCacheView& cache) {
  for (int64_t t = 0; t < n_tokens; ++t) {
    for (int64_t g = 0; g < s.n_kv_heads; ++g) {
      WriteVector(cache, 0, g, pos0 + t, k + t * row_stride + g * s.head_dim);
      WriteVector(cache, 1, g, pos0 + t, v + t * row_stride + g * s.head_dim);
    }
  }
}

float QueryInt8Scale(const float* x, float mul, int64_t n) {
  float amax = 0.f;
  for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i] * mul));
  return amax / 127.0f;
}

void KvAttentionReference(const float* q, int64_t q_stride, int64_t n_tokens,
                          const AttentionShape& s, int64_t pos0, const KvCacheView& cache,
                          float* out) {
  const int64_t group = s.n_heads / s.n_kv_heads, hd = s.head_dim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  std::vector<float> score, qs(hd);
  for (int64_t t = 0; t < n_tokens; ++t) {
    const int64_t n_pos = pos0 + t + 1;  // causal: positions [0, pos0 + t]
    score.resize(n_pos);
    for (int64_t h = 0; h < s.n_heads; ++h) {
      const int64_t g = h / group;
      const float* qh = q + t * q_stride + h * hd;
      for (int64_t d = 0; d < hd; ++d) qs[d] = qh[d] * scale;
      if (cache.layout->type == KvType::kInt8) {
        const float sq = QueryInt8Scale(qh, scale, hd), inv = sq > 0.f ? 1.0f / sq : 0.f;
        for (int64_t d = 0; d < hd; ++d) qs[d] = QueryInt8(qs[d], inv) * sq;
      }
      float mx = -INFINITY;
      for (int64_t j = 0; j < n_pos; ++j) {
        float dot = 0.f;
        for (int64_t d = 0; d < hd; ++d) dot += qs[d] * KvValue(cache, 0, g, j, d);
        score[j] = dot;
        mx = std::max(mx, dot);
      }
      float sum = 0.f;
      for (int64_t j = 0; j < n_pos; ++j) sum += (score[j] = std::exp(score[j] - mx));
      float* o = out + t * s.n_heads * hd + h * hd;
      std::fill(o, o + hd, 0.f);
      if (cache.layout->type == KvType::kInt8) {
        Int8WeightedSum(cache, g, n_pos, score.data(), o);
      } else {
        for (int64_t j = 0; j < n_pos; ++j)
          for (int64_t d = 0; d < hd; ++d) o[d] += score[j] * KvValue(cache, 1, g, j, d);
      }
      for (int64_t d = 0; d < hd; ++d) o[d] /= sum;
    }
  }
}

KvAttentionFn GetKvAttention(SimdLevel level, int64_t head_dim) {
  const CpuFeatures& f = GetCpuFeatures();
  if (head_dim % 16 != 0) return internal::ScalarKvAttention();
  if (level == SimdLevel::kAvx512 && f.avx512 && f.avx2) {
    return f.avx512_vnni && head_dim <= internal::kMaxVnniHeadDim
               ? internal::Avx512VnniKvAttention()
               : internal::Avx512KvAttention();
  }
  if (level >= SimdLevel::kAvx2 && f.avx2) {
    return f.avx_vnni && head_dim % 32 == 0 && head_dim <= internal::kMaxVnniHeadDim
               ? internal::AvxVnniKvAttention()
               : internal::Avx2KvAttention();
  }
  return internal::ScalarKvAttention();
}

}  // namespace glmq::cpu
