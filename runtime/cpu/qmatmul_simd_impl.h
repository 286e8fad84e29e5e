// The body of the AVX2 and AVX-512 VNNI QuantMatMul kernels, included by
// qmatmul_avx2.cc and qmatmul_avx512.cc (each compiled with its own -m
// flags). `Ops` supplies the 32-value integer dot products:
//   Ops::DotU(w_u8, a_s8)  sum of u8 x s8 products (q4/q4a nibbles)
//   Ops::DotS(w_s8, a_s8)  sum of s8 x s8 products (q8)
// each returning 8 int32 partial sums. One token at a time (two or more
// run the GEMM, qgemm_impl.h); rows are independent (the caller splits them
// over threads). Requires SimdGeometryOk(geo).
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "core/dtype.h"
#include "runtime/cpu/qmatmul_internal.h"

namespace glmq::qk {
namespace simd {

inline float LoadF16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

inline float HSum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// One group for a tile of T tokens: gacc[t] += ascale_b * I_b (8 lanes).
template <class Ops, int T>
inline void GroupTile(const EncodingTraits& tr, const GroupGeometry& geo, const uint8_t* vals,
                      int64_t begin, const int8_t* const* aq, const float* const* as,
                      __m256* gacc) {
  const __m256i mask = _mm256_set1_epi8(0x0f);
  if (tr.value_bits == 8) {
    for (int64_t i = 0; i < geo.g; i += 32) {
      const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(vals + i));
      const int64_t e = begin + i;
      for (int t = 0; t < T; ++t) {
        const __m256i av = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(aq[t] + e));
        const __m256 d = _mm256_cvtepi32_ps(Ops::DotS(wv, av));
        gacc[t] = _mm256_fmadd_ps(_mm256_set1_ps(as[t][e / kActBlock]), d, gacc[t]);
      }
    }
    return;
  }
  if (geo.g == 32) {  // 16 bytes: low nibbles = values 0..15, high = 16..31
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(vals));
    const __m128i lo = _mm_and_si128(v, _mm256_castsi256_si128(mask));
    const __m128i hi = _mm_and_si128(_mm_srli_epi16(v, 4), _mm256_castsi256_si128(mask));
    const __m256i wv = _mm256_set_m128i(hi, lo);
    for (int t = 0; t < T; ++t) {
      const __m256i av = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(aq[t] + begin));
      const __m256 d = _mm256_cvtepi32_ps(Ops::DotU(wv, av));
      gacc[t] = _mm256_fmadd_ps(_mm256_set1_ps(as[t][begin / kActBlock]), d, gacc[t]);
    }
    return;
  }
  const int64_t half = geo.g / 2;
  for (int64_t i = 0; i < half; i += 32) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(vals + i));
    const __m256i lo = _mm256_and_si256(v, mask);
    const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), mask);
    const int64_t e_lo = begin + i, e_hi = begin + half + i;
    for (int t = 0; t < T; ++t) {
      const __m256i a_lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(aq[t] + e_lo));
      const __m256i a_hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(aq[t] + e_hi));
      const __m256 d_lo = _mm256_cvtepi32_ps(Ops::DotU(lo, a_lo));
      const __m256 d_hi = _mm256_cvtepi32_ps(Ops::DotU(hi, a_hi));
      gacc[t] = _mm256_fmadd_ps(_mm256_set1_ps(as[t][e_lo / kActBlock]), d_lo, gacc[t]);
      gacc[t] = _mm256_fmadd_ps(_mm256_set1_ps(as[t][e_hi / kActBlock]), d_hi, gacc[t]);
    }
  }
}

template <class Ops, int T>
inline void RowTile(const WeightView& w, const GroupGeometry& geo, const ActQ& a, int64_t r,
                    int64_t t0, float* y) {
  const EncodingTraits& tr = *geo.traits;
  const int8_t* aq[T];
  const float* as[T];
  __m256 acc[T];
  float off_acc[T];
  for (int t = 0; t < T; ++t) {
    aq[t] = a.q.data() + (t0 + t) * a.padded;
    as[t] = a.scale.data() + (t0 + t) * a.n_blocks;
    acc[t] = _mm256_setzero_ps();
    off_acc[t] = 0.f;
  }
  const uint8_t* row = w.data + r * geo.row_bytes;
  for (int64_t gi = 0; gi < geo.n_groups; ++gi) {
    const uint8_t* grp = row + gi * geo.group_bytes;
    const float scale = LoadF16(grp);
    const float offset = tr.has_min ? LoadF16(grp + 2) : -static_cast<float>(tr.value_offset) * scale;
    __m256 gacc[T];
    for (int t = 0; t < T; ++t) gacc[t] = _mm256_setzero_ps();
    GroupTile<Ops, T>(tr, geo, grp + tr.group_header_bytes, gi * geo.g, aq, as, gacc);
    const __m256 vs = _mm256_set1_ps(scale);
    for (int t = 0; t < T; ++t) {
      acc[t] = _mm256_fmadd_ps(vs, gacc[t], acc[t]);
      off_acc[t] += offset * a.group_sum[(t0 + t) * a.n_groups + gi];
    }
  }
  for (int t = 0; t < T; ++t) y[(t0 + t) * w.rows + r] = HSum(acc[t]) + off_acc[t];
}

template <class Ops>
void Rows(const WeightView& w, const GroupGeometry& geo, const ActQ& a, int64_t r0,
          int64_t r1, float* y) {
  for (int64_t t = 0; t < a.n_tokens; ++t)
    for (int64_t r = r0; r < r1; ++r) RowTile<Ops, 1>(w, geo, a, r, t, y);
}

}  // namespace simd
}  // namespace glmq::qk
