// AVX2 prefill GEMM (qgemm_impl.h) and activation quantizer. Panels of 8
// weight rows (one vector of 8 int32 lanes), tiles of 4 tokens. vpmaddubsw
// multiplies u8 x s8 pairs into int16: q4/q4a nibbles (<= 15) x activations
// (|a| <= 127) give pair sums <= 3810, so the 8 steps of a block add up in
// int16 (<= 30480) before one vpmaddwd; q8 is packed signed and enters as
// |w| x sign(a, w) (pairs <= 2 x 127 x 127 = 32258, widened every step).
#include "runtime/cpu/qgemm_avx2_panel.h"

namespace glmq::qk {
namespace {

// vpmaddubsw; q4 sums stay int16 through a block (see the top).
struct MaddubsDot {
  static constexpr int kTile = 4;
  template <Kind K>
  static __m256i Add(__m256i ia, __m256i wa, __m256i wv, __m256i av) {
    if constexpr (K == Kind::kQ8) {
      const __m256i pr = _mm256_maddubs_epi16(wa, _mm256_sign_epi8(av, wv));
      return _mm256_add_epi32(ia, _mm256_madd_epi16(pr, _mm256_set1_epi16(1)));
    } else {
      return _mm256_add_epi16(ia, _mm256_maddubs_epi16(wa, av));
    }
  }
  template <Kind K>
  static __m256i Widen(__m256i ia) {
    return K == Kind::kQ8 ? ia : _mm256_madd_epi16(ia, _mm256_set1_epi16(1));
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

void QGemmAvx2(const WeightView& w, const GroupGeometry& geo, const ActQ& a, int64_t r0, int64_t r1,
               float* y) {
  GemmRows<Avx2Gemm<MaddubsDot>>(w, geo, a, r0, r1, y);
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
      const __m256i p8 =
          _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(a->q.data() + a->QIndex(t, begin)),
                          _mm256_permutevar8x32_epi32(p8, order));
      const int32_t sum =
          HSumI(_mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3])));
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
