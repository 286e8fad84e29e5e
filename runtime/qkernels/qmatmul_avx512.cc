// AVX-512 VNNI QuantMatMul. Groups made of whole 64-value chunks (q8: g %
// 64 == 0; q4/q4a: g == 64 or g % 128 == 0, e.g. every int4-g128 and
// int8-g128 weight) run a 512-bit kernel: one vpdpbusd per 64 values and
// token, lanes 0-7 / 8-15 belonging to activation blocks 2c / 2c+1, scaled
// by a vector holding both block scales; q8 g32 (int8) pairs two groups per
// product. Other groups (q4 g32) run the shared 256-bit body
// (qmatmul_simd_impl.h). q8 uses |w| x sign(a, w) (q8
// and activations stay in [-127, 127], so neither negation overflows).
#include "runtime/qkernels/qmatmul_simd_impl.h"

namespace glmq::qk {
namespace {

struct Avx512VnniOps {
  static __m256i DotU(__m256i w, __m256i a) {
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), w, a);
  }
  static __m256i DotS(__m256i w, __m256i a) {
    return DotU(_mm256_abs_epi8(w), _mm256_sign_epi8(a, w));
  }
};

bool Wide(const EncodingTraits& t, int64_t g) {
  return t.value_bits == 8 ? g % 64 == 0 : (g == 64 || g % 128 == 0);
}

float HSum512(__m512 v) {
  const __m256 a = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  return simd::HSum(a);
}

// The block scales of values [e, e + 64) of one token: lanes 0-7 = block
// e/32, lanes 8-15 = block e/32 + 1.
inline __m512 ScalePair(const float* as, int64_t e) {
  double pair;
  std::memcpy(&pair, as + e / kActBlock, sizeof pair);
  const __m512i idx = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
  return _mm512_permutexvar_ps(idx, _mm512_castpd_ps(_mm512_set1_pd(pair)));
}

// gacc[r][t] += block-scaled products of the 64 weights wv[r] (u8; for q8
// |w| with neg[r] = lanes where w < 0) of R rows with values [e, e + 64) of
// T tokens: activations and their scales are loaded once for the R rows.
template <int T, int R, bool kSigned>
inline void Chunk(const __m512i* wv, const __mmask64* neg, int64_t e, const int8_t* const* aq,
                  const float* const* as, __m512 (*gacc)[T]) {
  for (int t = 0; t < T; ++t) {
    const __m512i av = _mm512_loadu_si512(aq[t] + e);
    const __m512 sp = ScalePair(as[t], e);
    for (int r = 0; r < R; ++r) {
      const __m512i ar =
          kSigned ? _mm512_mask_sub_epi8(av, neg[r], _mm512_setzero_si512(), av) : av;
      const __m512i d = _mm512_dpbusd_epi32(_mm512_setzero_si512(), wv[r], ar);
      gacc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), sp, gacc[r][t]);
    }
  }
}

// Rows [r, r + R) x tokens [t0, t0 + T) for groups of whole 64-value chunks.
template <int T, int R>
void RowTile512(const QuantWeightView& w, const GroupGeometry& geo, const ActQ& a, int64_t r,
                int64_t t0, float* y) {
  const EncodingTraits& tr = *geo.traits;
  const int8_t* aq[T];
  const float* as[T];
  __m512 acc[R][T];
  float off_acc[R][T];
  for (int t = 0; t < T; ++t) {
    aq[t] = a.q.data() + (t0 + t) * a.padded;
    as[t] = a.scale.data() + (t0 + t) * a.n_blocks;
    for (int k = 0; k < R; ++k) {
      acc[k][t] = _mm512_setzero_ps();
      off_acc[k][t] = 0.f;
    }
  }
  const __m512i mask = _mm512_set1_epi8(0x0f);
  const int64_t g = geo.g;
  for (int64_t gi = 0; gi < geo.n_groups; ++gi) {
    const uint8_t* vals[R];
    float scale[R], offset[R];
    __m512 gacc[R][T];
    for (int k = 0; k < R; ++k) {
      const uint8_t* grp = w.data + (r + k) * geo.row_bytes + gi * geo.group_bytes;
      vals[k] = grp + tr.group_header_bytes;
      _mm_prefetch(reinterpret_cast<const char*>(grp) + 1024, _MM_HINT_T0);
      scale[k] = simd::LoadF16(grp);
      offset[k] = tr.has_min ? simd::LoadF16(grp + 2)
                             : -static_cast<float>(tr.value_offset) * scale[k];
      for (int t = 0; t < T; ++t) gacc[k][t] = _mm512_setzero_ps();
    }
    const int64_t begin = gi * g;
    __m512i wv[R];
    __mmask64 neg[R];
    if (tr.value_bits == 8) {
      for (int64_t i = 0; i < g; i += 64) {
        for (int k = 0; k < R; ++k) {
          const __m512i v = _mm512_loadu_si512(vals[k] + i);
          wv[k] = _mm512_abs_epi8(v);
          neg[k] = _mm512_movepi8_mask(v);
        }
        Chunk<T, R, true>(wv, neg, begin + i, aq, as, gacc);
      }
    } else if (g == 64) {  // 32 bytes: low nibbles = values 0..31, high = 32..63
      for (int k = 0; k < R; ++k) {
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(vals[k]));
        wv[k] = _mm512_and_si512(
            _mm512_inserti64x4(_mm512_castsi256_si512(v), _mm256_srli_epi16(v, 4), 1), mask);
      }
      Chunk<T, R, false>(wv, neg, begin, aq, as, gacc);
    } else {  // byte chunk j: low nibbles = values 64j.., high = g/2 + 64j..
      const int64_t half = g / 2;
      for (int64_t i = 0; i < half; i += 64) {
        __m512i hi[R];
        for (int k = 0; k < R; ++k) {
          const __m512i v = _mm512_loadu_si512(vals[k] + i);
          wv[k] = _mm512_and_si512(v, mask);
          hi[k] = _mm512_and_si512(_mm512_srli_epi16(v, 4), mask);
        }
        Chunk<T, R, false>(wv, neg, begin + i, aq, as, gacc);
        Chunk<T, R, false>(hi, neg, begin + half + i, aq, as, gacc);
      }
    }
    for (int k = 0; k < R; ++k) {
      const __m512 vs = _mm512_set1_ps(scale[k]);
      for (int t = 0; t < T; ++t) {
        acc[k][t] = _mm512_fmadd_ps(vs, gacc[k][t], acc[k][t]);
        off_acc[k][t] += offset[k] * a.group_sum[(t0 + t) * a.n_groups + gi];
      }
    }
  }
  for (int k = 0; k < R; ++k)
    for (int t = 0; t < T; ++t) y[(t0 + t) * w.rows + r + k] = HSum512(acc[k][t]) + off_acc[k][t];
}

template <int R>
void RowsWideR(const QuantWeightView& w, const GroupGeometry& geo, const ActQ& a, int64_t r,
               float* y) {
  int64_t t = 0;
  for (; t + 4 <= a.n_tokens; t += 4) RowTile512<4, R>(w, geo, a, r, t, y);
  switch (a.n_tokens - t) {
    case 3: RowTile512<3, R>(w, geo, a, r, t, y); break;
    case 2: RowTile512<2, R>(w, geo, a, r, t, y); break;
    case 1: RowTile512<1, R>(w, geo, a, r, t, y); break;
    default: break;
  }
}

void RowsWide(const QuantWeightView& w, const GroupGeometry& geo, const ActQ& a, int64_t r0,
              int64_t r1, float* y) {
  int64_t r = r0;
  for (; r + 2 <= r1; r += 2) RowsWideR<2>(w, geo, a, r, y);
  if (r < r1) RowsWideR<1>(w, geo, a, r, y);
}

// q8 g32: two groups (2 x 34 bytes) per 512-bit product, the two group
// scales folded into the block-scale vector (lanes 0-7: group 2p, 8-15:
// group 2p + 1). An odd last group runs with the second half zeroed.
template <int T>
void RowTileQ8G32(const QuantWeightView& w, const GroupGeometry& geo, const ActQ& a, int64_t r,
                  int64_t t0, float* y) {
  const int8_t* aq[T];
  const float* as[T];
  __m512 acc[T];
  for (int t = 0; t < T; ++t) {
    aq[t] = a.q.data() + (t0 + t) * a.padded;
    as[t] = a.scale.data() + (t0 + t) * a.n_blocks;
    acc[t] = _mm512_setzero_ps();
  }
  const uint8_t* row = w.data + r * geo.row_bytes;
  const int64_t gb = geo.group_bytes;
  for (int64_t gi = 0; gi < geo.n_groups; gi += 2) {
    const uint8_t* g0 = row + gi * gb;
    _mm_prefetch(reinterpret_cast<const char*>(g0) + 1024, _MM_HINT_T0);
    const bool pair = gi + 1 < geo.n_groups;
    const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(g0 + 2));
    const __m256i hi = pair ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(g0 + gb + 2))
                            : _mm256_setzero_si256();
    const __m512i wv = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
    const __m512 d = _mm512_insertf32x8(_mm512_set1_ps(simd::LoadF16(g0)),
                                        _mm256_set1_ps(pair ? simd::LoadF16(g0 + gb) : 0.f), 1);
    const __m512i wabs = _mm512_abs_epi8(wv);
    const __mmask64 neg = _mm512_movepi8_mask(wv);
    const __mmask64 valid = pair ? ~__mmask64{0} : __mmask64{0xffffffff};
    const int64_t e = gi * 32;
    for (int t = 0; t < T; ++t) {
      __m512i av = _mm512_maskz_loadu_epi8(valid, aq[t] + e);
      av = _mm512_mask_sub_epi8(av, neg, _mm512_setzero_si512(), av);
      const __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), wabs, av);
      const __m512 sc = pair ? ScalePair(as[t], e)
                             : _mm512_insertf32x8(_mm512_set1_ps(as[t][e / kActBlock]),
                                                  _mm256_setzero_ps(), 1);
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(sc, d), acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) y[(t0 + t) * w.rows + r] = HSum512(acc[t]);
}

template <template <int> class Tile>
void RowsTiled(const QuantWeightView& w, const GroupGeometry& geo, const ActQ& a, int64_t r0,
               int64_t r1, float* y) {
  for (int64_t r = r0; r < r1; ++r) {
    int64_t t = 0;
    for (; t + 4 <= a.n_tokens; t += 4) Tile<4>::Run(w, geo, a, r, t, y);
    switch (a.n_tokens - t) {
      case 3: Tile<3>::Run(w, geo, a, r, t, y); break;
      case 2: Tile<2>::Run(w, geo, a, r, t, y); break;
      case 1: Tile<1>::Run(w, geo, a, r, t, y); break;
      default: break;
    }
  }
}
template <int T>
struct Q8G32Tile {
  static void Run(const QuantWeightView& w, const GroupGeometry& geo, const ActQ& a, int64_t r,
                  int64_t t0, float* y) {
    RowTileQ8G32<T>(w, geo, a, r, t0, y);
  }
};

}  // namespace

void RowsAvx512(const QuantWeightView& w, const GroupGeometry& geo, const ActQ& a, int64_t r0,
                int64_t r1, float* y) {
  if (Wide(*geo.traits, geo.g)) return RowsWide(w, geo, a, r0, r1, y);
  if (geo.traits->value_bits == 8 && geo.g == 32)
    return RowsTiled<Q8G32Tile>(w, geo, a, r0, r1, y);
  simd::Rows<Avx512VnniOps>(w, geo, a, r0, r1, y);
}

}  // namespace glmq::qk
