// AVX-512 VNNI prefill GEMM (qgemm_impl.h) and activation quantizer.
// Panels of 32 weight rows (two vectors of 16 int32 lanes); tiles of 6
// tokens: 12 int32 and 12 f32 accumulators, 2 weight vectors and a
// broadcast of the 32 zmm registers. (4 row vectors x 6 tokens with the f32
// sums in L1 measured 4 % slower: 24 int32 chains left GCC shuffling
// registers.) Stored values enter vpdpbusd as u8 (q8: w ^
// 0x80 = w + 128; q4/q4a: the nibble), the token's 4 int8 activations as
// the signed operand; the bias (128 or 8 x the block's q sum) is the int32
// accumulator's start value.
#include <immintrin.h>

#include "runtime/cpu/qgemm_impl.h"

namespace glmq::qk {
namespace {

// The 32 values of block `s` of a stored row as bytes: q8 as w ^ 0x80, q4/q4a nibbles.
inline __m256i Block32(const GroupGeometry& geo, const uint8_t* row, const BlockSrc& s) {
  const uint8_t* vals = row + s.vals;
  if (geo.traits->value_bits == 8) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(vals));
    return _mm256_xor_si256(v, _mm256_set1_epi8(static_cast<char>(0x80)));
  }
  const __m256i mask = _mm256_set1_epi8(0x0f);
  if (geo.g == 32) {  // 16 bytes: low nibbles = values 0..15, high = 16..31
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(vals));
    const __m256i both = _mm256_inserti128_si256(_mm256_castsi128_si256(v), _mm_srli_epi16(v, 4), 1);
    return _mm256_and_si256(both, mask);
  }
  const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(vals));
  return _mm256_and_si256(s.high ? _mm256_srli_epi16(v, 4) : v, mask);
}

// In place: v[i] holds 16 dwords of row i; afterwards v[j] holds dword j of
// rows 0..15 (a 16 x 16 transpose in 64 shuffles).
inline void Transpose16(__m512i* v) {
  __m512i a[16], b[16];
  for (int i = 0; i < 8; ++i) {
    a[2 * i] = _mm512_unpacklo_epi32(v[2 * i], v[2 * i + 1]);
    a[2 * i + 1] = _mm512_unpackhi_epi32(v[2 * i], v[2 * i + 1]);
  }
  // b[4i + c], 128-bit lane L: rows 4i..4i+3 of dword 4L + c.
  for (int i = 0; i < 4; ++i) {
    b[4 * i] = _mm512_unpacklo_epi64(a[4 * i], a[4 * i + 2]);
    b[4 * i + 1] = _mm512_unpackhi_epi64(a[4 * i], a[4 * i + 2]);
    b[4 * i + 2] = _mm512_unpacklo_epi64(a[4 * i + 1], a[4 * i + 3]);
    b[4 * i + 3] = _mm512_unpackhi_epi64(a[4 * i + 1], a[4 * i + 3]);
  }
  for (int c = 0; c < 4; ++c) {
    const __m512i lo01 = _mm512_shuffle_i32x4(b[c], b[4 + c], 0x44);
    const __m512i hi01 = _mm512_shuffle_i32x4(b[c], b[4 + c], 0xee);
    const __m512i lo23 = _mm512_shuffle_i32x4(b[8 + c], b[12 + c], 0x44);
    const __m512i hi23 = _mm512_shuffle_i32x4(b[8 + c], b[12 + c], 0xee);
    v[c] = _mm512_shuffle_i32x4(lo01, lo23, 0x88);
    v[4 + c] = _mm512_shuffle_i32x4(lo01, lo23, 0xdd);
    v[8 + c] = _mm512_shuffle_i32x4(hi01, hi23, 0x88);
    v[12 + c] = _mm512_shuffle_i32x4(hi01, hi23, 0xdd);
  }
}

// kRV row vectors x kT tokens per tile.
template <int kRV, int kT>
struct Avx512 {
  static constexpr int kRows = 16 * kRV;
  static constexpr int kTile = kT;

  // The kb / 32 blocks at src of rows [r, r + nr) into p->vals ([kb / 4][kRows][4]).
  static void Pack(const WeightView& w, const GroupGeometry& geo, const BlockSrc* src, int64_t r,
                   int64_t nr, int64_t kb, Panel* p) {
    for (int h = 0; h < kRV; ++h) {
      for (int64_t kc = 0; kc < kb; kc += 64) {
        const bool full = kc + 64 <= kb;  // else 32 values
        __m512i v[16];
        for (int i = 0; i < 16; ++i) {
          const int64_t row = h * 16 + i;
          if (row >= nr) {
            v[i] = _mm512_setzero_si512();
            continue;
          }
          const uint8_t* stored = w.data + (r + row) * geo.row_bytes;
          const __m256i lo = Block32(geo, stored, src[kc / 32]);
          const __m256i hi = full ? Block32(geo, stored, src[kc / 32 + 1]) : _mm256_setzero_si256();
          v[i] = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
        }
        Transpose16(v);
        const int n4 = full ? 16 : 8;
        uint8_t* dst = p->vals + (kc / 4) * (4 * kRows) + h * 64;
        for (int j = 0; j < n4; ++j) _mm512_store_si512(dst + j * (4 * kRows), v[j]);
      }
    }
  }

  static void StoreRows(const float* c, int64_t nr, float* y) {
    for (int r = 0; r < kRV; ++r) {
      const int64_t n = std::clamp<int64_t>(nr - 16 * r, 0, 16);
      _mm512_mask_storeu_ps(y + 16 * r, static_cast<__mmask16>((1u << n) - 1),
                            _mm512_load_ps(c + 16 * r));
    }
  }

  // Tokens [t0, t0 + T) x the panel's kRows rows over values [k0, k0 + kb):
  // acc ([T][kRows], the panel's sums) = (first K block) or += the K
  // block's sums, kept in registers meanwhile.
  template <int T, Kind K>
  static void Tile(const Panel& p, const ActQ& a, int64_t t0, int64_t k0, int64_t kb, bool first,
                   float* acc) {
    const int8_t* aq[T];
    const float* as[T];
    const int32_t* bb[T];
    const float* fs[T];
    // The K block's rows of the tile's tokens, kKc bytes (kKc / 32 blocks) apart.
    const int64_t q0 = a.QIndex(t0, k0), b0 = a.BIndex(t0, k0 / kActBlock);
    for (int t = 0; t < T; ++t) {
      aq[t] = a.q.data() + q0 + t * kKc;
      as[t] = a.scale.data() + b0 + t * (kKc / kActBlock);
      bb[t] = a.block_bias.data() + b0 + t * (kKc / kActBlock);
      fs[t] = a.block_fsum.data() + b0 + t * (kKc / kActBlock);
    }
    __m512 sum[kRV][T];
    for (int r = 0; r < kRV; ++r)
      for (int t = 0; t < T; ++t) sum[r][t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < kb / 32; ++b) {
      __m512i ia[kRV][T];
      for (int t = 0; t < T; ++t) {
        const __m512i init = K != Kind::kQ4Asym ? _mm512_set1_epi32(bb[t][b]) : _mm512_setzero_si512();
        for (int r = 0; r < kRV; ++r) ia[r][t] = init;
      }
      const uint8_t* pv = p.vals + b * 8 * (4 * kRows);
#pragma GCC unroll 8
      for (int s = 0; s < 8; ++s) {
        __m512i wv[kRV];
        for (int r = 0; r < kRV; ++r) wv[r] = _mm512_load_si512(pv + s * (4 * kRows) + 64 * r);
        for (int t = 0; t < T; ++t) {
          int32_t four;
          std::memcpy(&four, aq[t] + b * 32 + s * 4, 4);
          const __m512i av = _mm512_set1_epi32(four);
          for (int r = 0; r < kRV; ++r) ia[r][t] = _mm512_dpbusd_epi32(ia[r][t], wv[r], av);
        }
      }
      for (int r = 0; r < kRV; ++r) {
        const __m512 ws = _mm512_loadu_ps(p.scale + b * kRows + 16 * r);
        for (int t = 0; t < T; ++t) {
          const __m512 sc = _mm512_mul_ps(ws, _mm512_set1_ps(as[t][b]));
          sum[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ia[r][t]), sc, sum[r][t]);
        }
      }
      if constexpr (K == Kind::kQ4Asym) {
        for (int r = 0; r < kRV; ++r) {
          const __m512 m = _mm512_loadu_ps(p.min + b * kRows + 16 * r);
          for (int t = 0; t < T; ++t) sum[r][t] = _mm512_fmadd_ps(m, _mm512_set1_ps(fs[t][b]), sum[r][t]);
        }
      }
    }
    for (int r = 0; r < kRV; ++r)
      for (int t = 0; t < T; ++t) {
        float* o = acc + t * kRows + 16 * r;
        _mm512_store_ps(o, first ? sum[r][t] : _mm512_add_ps(sum[r][t], _mm512_load_ps(o)));
      }
  }
};

}  // namespace

void QGemmAvx512(const WeightView& w, const GroupGeometry& geo, const ActQ& a, int64_t r0,
                 int64_t r1, float* y) {
  GemmRows<Avx512<kQGemmRowsAvx512 / 16, 6>>(w, geo, a, r0, r1, y);
}

// Bit-identical to QuantizeTokensScalar: the same max, division, product
// and round-to-nearest-even (vcvtps2dq under the default MXCSR).
void QuantizeTokensAvx512(const GroupGeometry& geo, const float* x, int64_t cols, int64_t t0,
                          int64_t t1, ActQ* a) {
  const __m512 abs_mask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
  const __m512i lim = _mm512_set1_epi32(127);
  const int64_t lanes = a->padded / 4;
  const int32_t bias = StoredBias(*geo.traits);
  for (int64_t t = t0; t < t1; ++t) {
    const float* xt = x + t * cols;
    float* gs = a->group_sum.data() + t * a->n_groups;
    std::fill(gs, gs + a->n_groups, 0.f);
    for (int64_t b = 0; b < a->n_blocks; ++b) {
      const int64_t begin = b * kActBlock, n = std::clamp<int64_t>(cols - begin, 0, 32);
      const __mmask16 k0 = n >= 16 ? 0xffff : static_cast<__mmask16>((1u << n) - 1);
      const __mmask16 k1 = n >= 32 ? 0xffff : n <= 16 ? 0 : static_cast<__mmask16>((1u << (n - 16)) - 1);
      const __m512 x0 = _mm512_maskz_loadu_ps(k0, xt + begin);
      const __m512 x1 = _mm512_maskz_loadu_ps(k1, xt + begin + 16);
      const float amax = _mm512_reduce_max_ps(
          _mm512_max_ps(_mm512_and_ps(x0, abs_mask), _mm512_and_ps(x1, abs_mask)));
      const float d = amax / 127.f, id = amax > 0.f ? 127.f / amax : 0.f;
      const __m512 vid = _mm512_set1_ps(id);
      const __m512i neg = _mm512_sub_epi32(_mm512_setzero_si512(), lim);
      const __m512i q0 = _mm512_max_epi32(_mm512_min_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(x0, vid)), lim), neg);
      const __m512i q1 = _mm512_max_epi32(_mm512_min_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(x1, vid)), lim), neg);
      int8_t* qb = a->q.data() + a->QIndex(t, begin);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(qb), _mm512_cvtepi32_epi8(q0));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(qb + 16), _mm512_cvtepi32_epi8(q1));
      const int32_t sum = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
      const int64_t bi = a->BIndex(t, b);
      a->scale[bi] = d;
      a->block_bias[bi] = -bias * sum;
      a->block_fsum[bi] = d * static_cast<float>(sum);
      gs[std::min(b * kActBlock / geo.g, a->n_groups - 1)] += a->block_fsum[bi];
    }
    if (a->lanes) {
      const int8_t* qt = a->q.data() + t * a->padded;
      for (int64_t j = 0; j < lanes; ++j) {
        const int8_t* l = qt + 4 * j;
        a->lane_scale[t * lanes + j] = a->scale[t * a->n_blocks + 4 * j / kActBlock];
        a->lane_neg_sum[t * lanes + j] = -(l[0] + l[1] + l[2] + l[3]);
      }
    }
  }
}

}  // namespace glmq::qk
