// The AVX2 GEMM's weight panels (qgemm_impl.h): 8 rows (one vector of 8
// int32 lanes), per 4 values of K one vector holding each row's 4 bytes
// (q8 signed, q4/q4a nibbles), so a broadcast of 4 activation bytes meets
// all 8 rows in one 4-byte dot product. Shared by the AVX2 (vpmaddubsw,
// qgemm_avx2.cc) and AVX-VNNI (vpdpbusd, qgemm_avxvnni.cc) tiles; include
// only from files compiled with -mavx2.
#pragma once

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
    const __m256i both =
        _mm256_inserti128_si256(_mm256_castsi128_si256(v), _mm_srli_epi16(v, 4), 1);
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

struct Avx2Panel {
  static constexpr int kRows = kQGemmRowsAvx2;

  static void Pack(const WeightView& w, const GroupGeometry& geo, const BlockSrc* src, int64_t r,
                   int64_t nr, int64_t kb, Panel* p) {
    for (int64_t kc = 0; kc < kb; kc += 32) {
      __m256i v[8];
      for (int i = 0; i < 8; ++i)
        v[i] = i < nr ? Block32(geo, w.data + (r + i) * geo.row_bytes, src[kc / 32])
                      : _mm256_setzero_si256();
      Transpose8(v);
      uint8_t* dst = p->vals + (kc / 4) * 32;
      for (int j = 0; j < 8; ++j)
        _mm256_store_si256(reinterpret_cast<__m256i*>(dst + j * 32), v[j]);
    }
  }

  static void StoreRows(const float* c, int64_t nr, float* y) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    _mm256_maskstore_ps(y, _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(nr)), idx),
                        _mm256_load_ps(c));
  }
};

// The GEMM (qgemm_impl.h's L) on these panels, tiles of Dot::kTile tokens.
// Dot supplies the 4-byte products of 8 lanes: Add<K>(ia, wa, wv, av) adds
// wa x (av, or sign(av, wv) for q8) to the block's sums ia, Widen<K>(ia)
// turns them into int32 at the end of a 32-value block.
template <class Dot>
struct Avx2Gemm : Avx2Panel {
  static constexpr int kTile = Dot::kTile;

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
          ia[t] = Dot::template Add<K>(ia[t], wa, wv, av);
        }
      }
      const __m256 ws = _mm256_loadu_ps(p.scale + b * 8);
      for (int t = 0; t < T; ++t) {
        __m256i i32 = Dot::template Widen<K>(ia[t]);
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

}  // namespace
}  // namespace glmq::qk
