// AVX2 prefill GEMM (qgemm_impl.h) and activation quantizer. Panels of 8
// weight rows (one vector of 8 int32 lanes), tiles of 4 tokens. vpmaddubsw
// multiplies u8 x s8 pairs into int16: q4/q4a nibbles (<= 15) x activations
// (|a| <= 127) give pair sums <= 3810, so the 8 steps of a block add up in
// int16 (<= 30480) before one vpmaddwd; q8 is packed signed and enters as
// |w| x sign(a, w) (pairs <= 2 x 127 x 127 = 32258, widened every step).
#include <immintrin.h>

#include "runtime/cpu/qgemm_impl.h"

namespace glmq::qk {
namespace {

// The 32 values of block `s` of a stored row as bytes: q8 signed, q4/q4a nibbles.
inline __m256i Block32(const GroupGeometry& geo, const uint8_t* row, const BlockSrc& s) {
  const uint8_t* vals = row + s.vals;
  if (geo.traits->value_bits == 8) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(vals));
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

// In place: v[i] = 8 dwords of row i -> v[j] = dword j of rows 0..7.
inline void Transpose8(__m256i* v) {
  __m256i a[8], b[8];
  for (int i = 0; i < 4; ++i) {
    a[2 * i] = _mm256_unpacklo_epi32(v[2 * i], v[2 * i + 1]);
    a[2 * i + 1] = _mm256_unpackhi_epi32(v[2 * i], v[2 * i + 1]);
  }
  // b[4i + c], 128-bit lane L: rows 4i..4i+3 of dword 4L + c.
  for (int i = 0; i < 2; ++i) {
    b[4 * i] = _mm256_unpacklo_epi64(a[4 * i], a[4 * i + 2]);
    b[4 * i + 1] = _mm256_unpackhi_epi64(a[4 * i], a[4 * i + 2]);
    b[4 * i + 2] = _mm256_unpacklo_epi64(a[4 * i + 1], a[4 * i + 3]);
    b[4 * i + 3] = _mm256_unpackhi_epi64(a[4 * i + 1], a[4 * i + 3]);
  }
  for (int c = 0; c < 4; ++c) {
    v[c] = _mm256_permute2x128_si256(b[c], b[4 + c], 0x20);
    v[4 + c] = _mm256_permute2x128_si256(b[c], b[4 + c], 0x31);
  }
}

struct Avx2 {
  static constexpr int kRows = kQGemmRowsAvx2;
  static constexpr int kTile = 4;

  static void Pack(const WeightView& w, const GroupGeometry& geo, const BlockSrc* src, int64_t r,
                   int64_t nr, int64_t kb, Panel* p) {
    for (int64_t kc = 0; kc < kb; kc += 32) {
      __m256i v[8];
      for (int i = 0; i < 8; ++i)
        v[i] = i < nr ? Block32(geo, w.data + (r + i) * geo.row_bytes, src[kc / 32])
                      : _mm256_setzero_si256();
      Transpose8(v);
      uint8_t* dst = p->vals + (kc / 4) * 32;
      for (int j = 0; j < 8; ++j) _mm256_store_si256(reinterpret_cast<__m256i*>(dst + j * 32), v[j]);
    }
  }

  static void StoreRows(const float* c, int64_t nr, float* y) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    _mm256_maskstore_ps(y, _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(nr)), idx),
                        _mm256_load_ps(c));
  }

  // Tokens [t0, t0 + T) x the panel's 8 rows over values [k0, k0 + kb); c:
  // [T][8] sums (stored on the first K block, added after).
  template <int T, Kind K>
  static void Tile(const Panel& p, const ActQ& a, int64_t t0, int64_t k0, int64_t kb, bool first,
                   float* c) {
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
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[T];
    for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < kb / 32; ++b) {
      const uint8_t* pv = p.vals + b * 8 * 32;
      __m256i ia[T];
      for (int t = 0; t < T; ++t) ia[t] = _mm256_setzero_si256();
      for (int s = 0; s < 8; ++s) {
        const __m256i wv = _mm256_load_si256(reinterpret_cast<const __m256i*>(pv + s * 32));
        const __m256i wa = K == Kind::kQ8 ? _mm256_abs_epi8(wv) : wv;
        for (int t = 0; t < T; ++t) {
          int32_t four;
          std::memcpy(&four, aq[t] + b * 32 + s * 4, 4);
          const __m256i av = _mm256_set1_epi32(four);
          if constexpr (K == Kind::kQ8) {
            const __m256i pr = _mm256_maddubs_epi16(wa, _mm256_sign_epi8(av, wv));
            ia[t] = _mm256_add_epi32(ia[t], _mm256_madd_epi16(pr, ones));
          } else {
            ia[t] = _mm256_add_epi16(ia[t], _mm256_maddubs_epi16(wa, av));
          }
        }
      }
      const __m256 ws = _mm256_loadu_ps(p.scale + b * 8);
      for (int t = 0; t < T; ++t) {
        __m256i i32 = ia[t];
        if constexpr (K != Kind::kQ8) i32 = _mm256_madd_epi16(i32, ones);
        if constexpr (K == Kind::kQ4Sym) i32 = _mm256_add_epi32(i32, _mm256_set1_epi32(bb[t][b]));
        const __m256 sc = _mm256_mul_ps(ws, _mm256_set1_ps(as[t][b]));
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i32), sc, acc[t]);
      }
      if constexpr (K == Kind::kQ4Asym) {
        const __m256 m = _mm256_loadu_ps(p.min + b * 8);
        for (int t = 0; t < T; ++t) acc[t] = _mm256_fmadd_ps(m, _mm256_set1_ps(fs[t][b]), acc[t]);
      }
    }
    for (int t = 0; t < T; ++t) {
      if (!first) acc[t] = _mm256_add_ps(acc[t], _mm256_load_ps(c + 8 * t));
      _mm256_store_ps(c + 8 * t, acc[t]);
    }
  }
};

inline float HMax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

inline int32_t HSumI(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

}  // namespace

void QGemmAvx2(const WeightView& w, const GroupGeometry& geo, const ActQ& a, int64_t r0,
               int64_t r1, float* y) {
  GemmRows<Avx2>(w, geo, a, r0, r1, y);
}

// Bit-identical to QuantizeTokensScalar (see QuantizeTokensAvx512).
void QuantizeTokensAvx2(const GroupGeometry& geo, const float* x, int64_t cols, int64_t t0,
                        int64_t t1, ActQ* a) {
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256i lim = _mm256_set1_epi32(127), neg = _mm256_set1_epi32(-127);
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  const int64_t lanes = a->padded / 4;
  const int32_t bias = StoredBias(*geo.traits);
  for (int64_t t = t0; t < t1; ++t) {
    const float* xt = x + t * cols;
    float* gs = a->group_sum.data() + t * a->n_groups;
    std::fill(gs, gs + a->n_groups, 0.f);
    for (int64_t b = 0; b < a->n_blocks; ++b) {
      const int64_t begin = b * kActBlock, n = std::clamp<int64_t>(cols - begin, 0, 32);
      __m256 xv[4];
      __m256 m = _mm256_setzero_ps();
      for (int j = 0; j < 4; ++j) {
        const __m256i k = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n - 8 * j)), idx);
        xv[j] = _mm256_maskload_ps(xt + begin + 8 * j, k);
        m = _mm256_max_ps(m, _mm256_and_ps(xv[j], abs_mask));
      }
      const float amax = HMax(m);
      const float d = amax / 127.f, id = amax > 0.f ? 127.f / amax : 0.f;
      __m256i q[4];
      for (int j = 0; j < 4; ++j) {
        q[j] = _mm256_cvtps_epi32(_mm256_mul_ps(xv[j], _mm256_set1_ps(id)));
        q[j] = _mm256_max_epi32(_mm256_min_epi32(q[j], lim), neg);
      }
      const __m256i p8 = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(a->q.data() + a->QIndex(t, begin)),
                          _mm256_permutevar8x32_epi32(p8, order));
      const int32_t sum = HSumI(_mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3])));
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
