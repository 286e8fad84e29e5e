// AVX-512 VNNI QuantMatMul of one token at a time (decode; two or more
// tokens run the GEMM, qgemm_avx512.cc). Groups made of whole 64-value
// chunks (q8: g % 64 == 0; q4/q4a: g == 64 or g % 128 == 0) and g32 groups
// paired into 64 values (every preset: int8, int8-g128, int4-g128, int4-g32,
// int4a-...) run the GEMV kernels below; other group sizes the shared
// 256-bit body (qmatmul_simd_impl.h).
//
// The GEMV: kGemvRows weight rows stream
// at once, each from its own block of the thread's rows (GemvRows), the stored
// values enter vpdpbusd biased to u8 (q8: w ^ 0x80 = w + 128; q4: the
// nibble = value + 8) and the int32 accumulator starts at -bias x the
// activations' lane sums, so the offset needs no work per group; block
// scales come per lane from ActQ::lane_scale.
#include "runtime/cpu/qmatmul_simd_impl.h"

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

// ---- GEMV (one token) ------------------------------------------------------

constexpr int kGemvRows = 8;             // row streams per pass (BM_QuantGemvDram: 8 > 6, 4)
constexpr int64_t kGemvPrefetch = 1024;  // bytes ahead in each row stream

enum class Kind { kQ4Sym, kQ4Asym, kQ8 };

struct TokenAct {
  const int8_t* q;
  const float* lane_scale;
  const int32_t* lane_neg_sum;
  const float* group_sum;
};

// The 64 activations at e with their lane scales and accumulator start.
template <int kBiasShift>
struct LaneChunk {
  __m512i av, c0;
  __m512 sc;
  LaneChunk(const TokenAct& ta, int64_t e)
      : av(_mm512_loadu_si512(ta.q + e)),
        c0(kBiasShift > 0
               ? _mm512_slli_epi32(_mm512_loadu_si512(ta.lane_neg_sum + e / 4), kBiasShift)
               : _mm512_setzero_si512()),
        sc(_mm512_loadu_ps(ta.lane_scale + e / 4)) {}
  // acc + lane scales x (dpbusd(w, a) - bias x lane sums); w: 64 biased u8.
  __m512 Fma(__m512i w, __m512 acc) const {
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_dpbusd_epi32(c0, w, av)), sc, acc);
  }
};

// y[r + k * stride] for k < R, one token, groups of whole 64-value chunks
// (Wide).
template <int R, Kind K>
void Gemv(const WeightView& w, const GroupGeometry& geo, const TokenAct& ta, int64_t r,
          int64_t stride, float* y) {
  constexpr int kShift = K == Kind::kQ8 ? 7 : K == Kind::kQ4Sym ? 3 : 0;
  const int64_t g = geo.g, hdr = geo.traits->group_header_bytes;
  const __m512i mask = _mm512_set1_epi8(0x0f), flip = _mm512_set1_epi8(static_cast<char>(0x80));
  __m512 acc[R];
  float off[R];
  const uint8_t* row[R];
  for (int k = 0; k < R; ++k) {
    acc[k] = _mm512_setzero_ps();
    off[k] = 0.f;
    row[k] = w.data + (r + k * stride) * geo.row_bytes;
  }
  for (int64_t gi = 0; gi < geo.n_groups; ++gi) {
    __m512 gacc[R];
    float scale[R];
    const uint8_t* vals[R];
    for (int k = 0; k < R; ++k) {
      const uint8_t* grp = row[k] + gi * geo.group_bytes;
      _mm_prefetch(reinterpret_cast<const char*>(grp) + kGemvPrefetch, _MM_HINT_T0);
      scale[k] = simd::LoadF16(grp);
      if constexpr (K == Kind::kQ4Asym) off[k] += simd::LoadF16(grp + 2) * ta.group_sum[gi];
      vals[k] = grp + hdr;
      gacc[k] = _mm512_setzero_ps();
    }
    const int64_t begin = gi * g;
    // One row's values at a time: the chunk's activations stay in registers
    // and no row's values wait in a spill slot.
    if constexpr (K == Kind::kQ8) {
      for (int64_t i = 0; i < g; i += 64) {
        const LaneChunk<kShift> a(ta, begin + i);
        for (int k = 0; k < R; ++k)
          gacc[k] = a.Fma(_mm512_xor_si512(_mm512_loadu_si512(vals[k] + i), flip), gacc[k]);
      }
    } else if (g == 64) {  // 32 bytes: low nibbles = values 0..31, high = 32..63
      const LaneChunk<kShift> a(ta, begin);
      for (int k = 0; k < R; ++k) {
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(vals[k]));
        gacc[k] = a.Fma(
            _mm512_and_si512(
                _mm512_inserti64x4(_mm512_castsi256_si512(v), _mm256_srli_epi16(v, 4), 1), mask),
            gacc[k]);
      }
    } else {  // byte chunk j: low nibbles = values 64j.., high = g/2 + 64j..
      const int64_t half = g / 2;
      for (int64_t i = 0; i < half; i += 64) {
        const LaneChunk<kShift> lo(ta, begin + i), hi(ta, begin + half + i);
        for (int k = 0; k < R; ++k) {
          const __m512i v = _mm512_loadu_si512(vals[k] + i);
          gacc[k] = lo.Fma(_mm512_and_si512(v, mask), gacc[k]);
          gacc[k] = hi.Fma(_mm512_and_si512(_mm512_srli_epi16(v, 4), mask), gacc[k]);
        }
      }
    }
    for (int k = 0; k < R; ++k) acc[k] = _mm512_fmadd_ps(_mm512_set1_ps(scale[k]), gacc[k], acc[k]);
  }
  for (int k = 0; k < R; ++k) y[r + k * stride] = HSum512(acc[k]) + off[k];
}

// The f16 scales at g0 and (pair) g0 + gb as 16 lanes: 0-7 the first,
// 8-15 the second (0 without a pair).
inline __m512 PairScales(const uint8_t* g0, int64_t gb, bool pair) {
  const __m512i pair_idx = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
  uint16_t h[2] = {0, 0};
  std::memcpy(&h[0], g0, 2);
  if (pair) std::memcpy(&h[1], g0 + gb, 2);
  uint32_t hh;
  std::memcpy(&hh, h, 4);
  return _mm512_permutexvar_ps(
      pair_idx, _mm512_castps128_ps512(_mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(hh)))));
}

// The 64 stored values of a g32 pair (groups at g0 and, if `pair`, g0 +
// gb; values hdr bytes into each) in value order as vpdpbusd's u8: q8 as
// w ^ 0x80, q4/q4a nibbles (low = values 0..15, high = 16..31 of a group).
// Without a pair the second group's lanes hold zero bytes (their
// activations and scales are zero).
template <Kind K>
inline __m512i PairValues(const uint8_t* g0, int64_t gb, int64_t hdr, bool pair) {
  if constexpr (K == Kind::kQ8) {
    const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(g0 + hdr));
    const __m256i hi = pair ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(g0 + gb + hdr))
                            : _mm256_setzero_si256();
    return _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1),
                            _mm512_set1_epi8(static_cast<char>(0x80)));
  } else {
    const __m256i mask = _mm256_set1_epi8(0x0f);
    const __m128i v0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(g0 + hdr));
    const __m128i v1 = pair ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(g0 + gb + hdr))
                            : _mm_setzero_si128();
    const __m256i x = _mm256_set_m128i(v1, v0);
    const __m256i lo = _mm256_and_si256(x, mask);
    const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), mask);
    // [lo0 lo1 hi0 hi1] -> [lo0 hi0 lo1 hi1]
    const __m512i lh = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
    return _mm512_shuffle_i64x2(lh, lh, _MM_SHUFFLE(3, 1, 2, 0));
  }
}

// g32 groups (q8: 34 bytes, q4: 18, q4a: 20): two groups per 512-bit
// product, lanes 0-7 / 8-15 scaled by group 2p / 2p + 1 (an odd last group
// pairs with zeros; ActQ is padded to 64 values, so the activations read
// past it are zero). The stored values enter biased as in Gemv; q4a adds
// min x group sum per group.
template <int R, Kind K>
void GemvG32(const WeightView& w, const GroupGeometry& geo, const TokenAct& ta, int64_t r,
             int64_t stride, float* y) {
  constexpr int kShift = K == Kind::kQ8 ? 7 : K == Kind::kQ4Sym ? 3 : 0;
  const int64_t gb = geo.group_bytes, hdr = geo.traits->group_header_bytes;
  __m512 acc[R];
  float off[R];
  const uint8_t* row[R];
  for (int k = 0; k < R; ++k) {
    acc[k] = _mm512_setzero_ps();
    off[k] = 0.f;
    row[k] = w.data + (r + k * stride) * geo.row_bytes;
  }
  for (int64_t gi = 0; gi < geo.n_groups; gi += 2) {
    const bool pair = gi + 1 < geo.n_groups;
    const LaneChunk<kShift> a(ta, gi * 32);
    for (int k = 0; k < R; ++k) {
      const uint8_t* g0 = row[k] + gi * gb;
      _mm_prefetch(reinterpret_cast<const char*>(g0) + kGemvPrefetch, _MM_HINT_T0);
      if constexpr (K == Kind::kQ4Asym) {
        off[k] += simd::LoadF16(g0 + 2) * ta.group_sum[gi];
        if (pair) off[k] += simd::LoadF16(g0 + gb + 2) * ta.group_sum[gi + 1];
      }
      const __m512i dot = _mm512_dpbusd_epi32(a.c0, PairValues<K>(g0, gb, hdr, pair), a.av);
      acc[k] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot),
                               _mm512_mul_ps(a.sc, PairScales(g0, gb, pair)), acc[k]);
    }
  }
  for (int k = 0; k < R; ++k) y[r + k * stride] = HSum512(acc[k]) + off[k];
}

template <int R>
void GemvDispatch(const WeightView& w, const GroupGeometry& geo, const TokenAct& ta, int64_t r,
                  int64_t stride, float* y) {
  const EncodingTraits& tr = *geo.traits;
  if (tr.value_bits == 8) {
    if (geo.g == 32) return GemvG32<R, Kind::kQ8>(w, geo, ta, r, stride, y);
    return Gemv<R, Kind::kQ8>(w, geo, ta, r, stride, y);
  }
  if (geo.g == 32) {
    if (tr.has_min) return GemvG32<R, Kind::kQ4Asym>(w, geo, ta, r, stride, y);
    return GemvG32<R, Kind::kQ4Sym>(w, geo, ta, r, stride, y);
  }
  if (tr.has_min) return Gemv<R, Kind::kQ4Asym>(w, geo, ta, r, stride, y);
  Gemv<R, Kind::kQ4Sym>(w, geo, ta, r, stride, y);
}

// Rows [r0, r1) of token t. The range is cut into kGemvRows blocks of n
// consecutive rows, and pass p reads row p of every block: each of the
// kGemvRows streams walks its block's memory front to back, the pattern
// the L2 streamer follows. (Passes over kGemvRows consecutive rows put
// several streams in one 4 KiB page, in no order; 4096-column int4 rows,
// 2,112 B, then ran ~30 % slower per byte: docs/benchmarks.md.) The rows
// left over run one at a time.
void GemvRows(const WeightView& w, const GroupGeometry& geo, const ActQ& a, int64_t t, int64_t r0,
              int64_t r1, float* y) {
  const int64_t lanes = a.padded / 4;
  const TokenAct ta{a.q.data() + t * a.padded, a.lane_scale.data() + t * lanes,
                    a.lane_neg_sum.data() + t * lanes, a.group_sum.data() + t * a.n_groups};
  float* yt = y + t * w.rows;
  const int64_t n = (r1 - r0) / kGemvRows;
  for (int64_t p = 0; p < n; ++p) GemvDispatch<kGemvRows>(w, geo, ta, r0 + p, n, yt);
  for (int64_t r = r0 + n * kGemvRows; r < r1; ++r) GemvDispatch<1>(w, geo, ta, r, 1, yt);
}

}  // namespace

void RowsAvx512(const WeightView& w, const GroupGeometry& geo, const ActQ& a, int64_t r0,
                int64_t r1, float* y) {
  if (Wide(*geo.traits, geo.g) || geo.g == 32) {
    for (int64_t t = 0; t < a.n_tokens; ++t) GemvRows(w, geo, a, t, r0, r1, y);
    return;
  }
  simd::Rows<Avx512VnniOps>(w, geo, a, r0, r1, y);
}

}  // namespace glmq::qk
