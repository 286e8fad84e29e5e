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

// One group of R rows (the group's values of row i at vals[i]) for one
// token: gacc[i] += ascale_b * I_b (8 lanes). The rows share the
// activation loads and, with their own accumulators, keep R multiply-add
// chains in flight (one row alone waits on its chain's latency).
template <class Ops, int R>
inline void GroupRows(const EncodingTraits& tr, const GroupGeometry& geo,
                      const uint8_t* const* vals, int64_t begin, const int8_t* aq, const float* as,
                      __m256* gacc) {
  const __m256i mask = _mm256_set1_epi8(0x0f);
  if (tr.value_bits == 8) {
    for (int64_t i = 0; i < geo.g; i += 32) {
      const __m256i av = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(aq + begin + i));
      const __m256 sc = _mm256_set1_ps(as[(begin + i) / kActBlock]);
      for (int r = 0; r < R; ++r) {
        const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(vals[r] + i));
        gacc[r] = _mm256_fmadd_ps(sc, _mm256_cvtepi32_ps(Ops::DotS(wv, av)), gacc[r]);
      }
    }
    return;
  }
  if (geo.g == 32) {  // 16 bytes: low nibbles = values 0..15, high = 16..31
    const __m256i av = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(aq + begin));
    const __m256 sc = _mm256_set1_ps(as[begin / kActBlock]);
    for (int r = 0; r < R; ++r) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(vals[r]));
      const __m128i lo = _mm_and_si128(v, _mm256_castsi256_si128(mask));
      const __m128i hi = _mm_and_si128(_mm_srli_epi16(v, 4), _mm256_castsi256_si128(mask));
      const __m256 d = _mm256_cvtepi32_ps(Ops::DotU(_mm256_set_m128i(hi, lo), av));
      gacc[r] = _mm256_fmadd_ps(sc, d, gacc[r]);
    }
    return;
  }
  const int64_t half = geo.g / 2;
  for (int64_t i = 0; i < half; i += 32) {
    const int64_t e_lo = begin + i, e_hi = begin + half + i;
    const __m256i a_lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(aq + e_lo));
    const __m256i a_hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(aq + e_hi));
    const __m256 s_lo = _mm256_set1_ps(as[e_lo / kActBlock]);
    const __m256 s_hi = _mm256_set1_ps(as[e_hi / kActBlock]);
    for (int r = 0; r < R; ++r) {
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(vals[r] + i));
      const __m256i lo = _mm256_and_si256(v, mask);
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), mask);
      gacc[r] = _mm256_fmadd_ps(s_lo, _mm256_cvtepi32_ps(Ops::DotU(lo, a_lo)), gacc[r]);
      gacc[r] = _mm256_fmadd_ps(s_hi, _mm256_cvtepi32_ps(Ops::DotU(hi, a_hi)), gacc[r]);
    }
  }
}

// y[t, r + i * stride] for i < R, token t.
template <class Ops, int R>
inline void RowTile(const WeightView& w, const GroupGeometry& geo, const ActQ& a, int64_t r,
                    int64_t stride, int64_t t, float* y) {
  const EncodingTraits& tr = *geo.traits;
  const int8_t* aq = a.q.data() + t * a.padded;
  const float* as = a.scale.data() + t * a.n_blocks;
  const float* gsum = a.group_sum.data() + t * a.n_groups;
  __m256 acc[R];
  float off_acc[R];
  const uint8_t* vals[R];
  for (int i = 0; i < R; ++i) {
    acc[i] = _mm256_setzero_ps();
    off_acc[i] = 0.f;
  }
  for (int64_t gi = 0; gi < geo.n_groups; ++gi) {
    __m256 gacc[R];
    for (int i = 0; i < R; ++i) {
      vals[i] =
          w.data + (r + i * stride) * geo.row_bytes + gi * geo.group_bytes + tr.group_header_bytes;
      gacc[i] = _mm256_setzero_ps();
    }
    GroupRows<Ops, R>(tr, geo, vals, gi * geo.g, aq, as, gacc);
    for (int i = 0; i < R; ++i) {
      const uint8_t* grp = vals[i] - tr.group_header_bytes;
      const float scale = LoadF16(grp);
      const float offset =
          tr.has_min ? LoadF16(grp + 2) : -static_cast<float>(tr.value_offset) * scale;
      acc[i] = _mm256_fmadd_ps(_mm256_set1_ps(scale), gacc[i], acc[i]);
      off_acc[i] += offset * gsum[gi];
    }
  }
  for (int i = 0; i < R; ++i) y[t * w.rows + r + i * stride] = HSum(acc[i]) + off_acc[i];
}

// Rows [r0, r1) of every token, kRows at a time: 16 weight streams and
// accumulator chains in flight (glm-4-9b-chat-1m int4-g128 decode at
// GLMQ_SIMD=avx2 with 1, 2, 4, 8, 16, 32 consecutive rows: 1.9, 2.1, 2.6,
// 2.9, 3.2, 2.3 tok/s). As in the AVX-512 GEMV (qmatmul_avx512.cc
// GemvRows), the range is cut into kRows blocks and a tile takes one row of
// each, so every stream walks its own block front to back (q4 g128 from
// memory: 20-21 -> 23-24 GB/s against consecutive rows).
template <class Ops>
void Rows(const WeightView& w, const GroupGeometry& geo, const ActQ& a, int64_t r0, int64_t r1,
          float* y) {
  constexpr int kRows = 16;
  const int64_t n = (r1 - r0) / kRows;
  for (int64_t t = 0; t < a.n_tokens; ++t) {
    for (int64_t p = 0; p < n; ++p) RowTile<Ops, kRows>(w, geo, a, r0 + p, n, t, y);
    for (int64_t r = r0 + n * kRows; r < r1; ++r) RowTile<Ops, 1>(w, geo, a, r, 1, t, y);
  }
}

}  // namespace simd
}  // namespace glmq::qk
