// The tiled KV attention with AVX-512 vectors and, for int8 KV, q . K as
// integer dot products with VNNI (vpdpbusd: 64 byte products per
// instruction against 16 FMAs; this file is compiled with the AVX-512 flags
// and -mavx512vnni), and P V for int8 KV the same way (below). The rest
// (softmax, the other KV types) is the AVX-512 kernel's code.
//
// PackK turns a tile's K, stored as head_dim rows of kTk int8 keys, into
// groups of 4 dimensions: for dims 4i..4i+3, four vectors whose 32-bit lane
// holds one key's 4 bytes, as k + 128 (vpdpbusd multiplies unsigned by
// signed bytes; the query is the signed side and each row's 128 x sum(q) is
// subtracted after). Unpacking 4 rows of 64 keys leaves vector m, lane L,
// word w holding key 16 L + 4 m + w; QkI8 puts the scores back in key order.
//
// P V the same way round: PackV interleaves 4 keys' V rows (64 dimensions
// per vector, word = the 4 keys' bytes of one dimension, dimensions in the
// same lane order), and PvI8 multiplies them by the 8-bit weights (the
// unsigned side, kv_attention.h PWeightsInt8Inv), accumulating a tile in
// int32 (at most 255 x 127 x 64) before one f32 update of O per row.
#include "runtime/cpu/kv_attention_tiled.h"
#include "runtime/cpu/simd_vec_avx512.h"

namespace glmq::cpu {
namespace {

static_assert(kAttnKeyTile == 64, "PackK, QkI8 and PvI8 handle 64 keys as one vector of bytes");

// Four rows of 64 bytes as four vectors of 4-byte words: vector m, lane L,
// word w = byte 16 L + 4 m + w of rows 0..3.
inline void Interleave4(const __m512i r[4], __m512i* out) {
  const __m512i a = _mm512_unpacklo_epi8(r[0], r[1]), b = _mm512_unpackhi_epi8(r[0], r[1]);
  const __m512i c = _mm512_unpacklo_epi8(r[2], r[3]), e = _mm512_unpackhi_epi8(r[2], r[3]);
  _mm512_store_si512(out + 0, _mm512_unpacklo_epi16(a, c));
  _mm512_store_si512(out + 1, _mm512_unpackhi_epi16(a, c));
  _mm512_store_si512(out + 2, _mm512_unpacklo_epi16(b, e));
  _mm512_store_si512(out + 3, _mm512_unpackhi_epi16(b, e));
}

// The inverse order for int32 results: o[n] = lane n of x[0..3] (elements
// 16 n .. 16 n + 15 of the interleaved 64).
inline void Deinterleave4(const __m512i x[4], __m512i o[4]) {
  const __m512i t0 = _mm512_shuffle_i32x4(x[0], x[1], 0x44);
  const __m512i t1 = _mm512_shuffle_i32x4(x[2], x[3], 0x44);
  const __m512i t2 = _mm512_shuffle_i32x4(x[0], x[1], 0xee);
  const __m512i t3 = _mm512_shuffle_i32x4(x[2], x[3], 0xee);
  o[0] = _mm512_shuffle_i32x4(t0, t1, 0x88);
  o[1] = _mm512_shuffle_i32x4(t0, t1, 0xdd);
  o[2] = _mm512_shuffle_i32x4(t2, t3, 0x88);
  o[3] = _mm512_shuffle_i32x4(t2, t3, 0xdd);
}

constexpr int kPvI8Rows = 6;  // 6 rows x 4 accumulators + 4 V vectors in 32 registers

// What PvI8 rows share: the packed tile (per key quad, chunks of 64
// dimensions x 4 vectors), the chunk c being summed, O's row stride.
struct PvTile {
  const __m512i* packed;
  int64_t chunks, c, hd, hp;
  KvPrefetch* prefetch;  // one Step per key quad
};

// O[r, 64 c ..] += step_r x sum_j u[r, j] V[j, 64 c ..] for R rows.
template <int R>
void PvI8Block(const uint8_t* u, const float* step, const PvTile& t, float* o) {
  __m512i acc[R][4];
  for (int r = 0; r < R; ++r)
    for (int m = 0; m < 4; ++m) acc[r][m] = _mm512_setzero_si512();
  for (int64_t kq = 0; kq < kAttnKeyTile / 4; ++kq) {
    t.prefetch->Step();
    const __m512i* vp = t.packed + (kq * t.chunks + t.c) * 4;
    const __m512i v0 = _mm512_load_si512(vp), v1 = _mm512_load_si512(vp + 1);
    const __m512i v2 = _mm512_load_si512(vp + 2), v3 = _mm512_load_si512(vp + 3);
    for (int r = 0; r < R; ++r) {
      int32_t u4;
      __builtin_memcpy(&u4, u + r * kAttnKeyTile + 4 * kq, 4);
      const __m512i ub = _mm512_set1_epi32(u4);
      acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], ub, v0);
      acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], ub, v1);
      acc[r][2] = _mm512_dpbusd_epi32(acc[r][2], ub, v2);
      acc[r][3] = _mm512_dpbusd_epi32(acc[r][3], ub, v3);
    }
  }
  const int64_t n_vec = std::min<int64_t>(4, (t.hd - 64 * t.c) / 16);
  for (int r = 0; r < R; ++r) {
    __m512i x[4];
    Deinterleave4(acc[r], x);
    const __m512 st = _mm512_set1_ps(step[r]);
    float* orow = o + r * t.hp + 64 * t.c;
    for (int64_t n = 0; n < n_vec; ++n)
      _mm512_storeu_ps(orow + 16 * n, _mm512_fmadd_ps(st, _mm512_cvtepi32_ps(x[n]),
                                                      _mm512_loadu_ps(orow + 16 * n)));
  }
}

// n_rows rows: R-row blocks, the rest with R - 1, R - 2, ...
template <int R>
void PvI8Rows(int64_t n_rows, const uint8_t* u, const float* step, const PvTile& t, float* o) {
  int64_t r = 0;
  for (; r + R <= n_rows; r += R) PvI8Block<R>(u + r * kAttnKeyTile, step + r, t, o + r * t.hp);
  if constexpr (R > 1) {
    if (r < n_rows) PvI8Rows<R - 1>(n_rows - r, u + r * kAttnKeyTile, step + r, t, o + r * t.hp);
  }
}

struct Avx512Vnni : Avx512Vec {
  static constexpr int kRows = 6, kVecs = 4, kPvRows = 8, kPvVecs = 3;  // as the AVX-512 kernel
  static constexpr bool kInt8Dot = true;

  // Prefetch Steps of one tile of n_rows rows: PackK's, QkI8's (kRows rows
  // at a time) and PvI8's (kPvI8Rows rows per key quad) loop iterations.
  static int64_t Steps(int64_t n_rows, int64_t hd) {
    const int64_t blocks = (n_rows + kPvI8Rows - 1) / kPvI8Rows;
    return hd / 4 + hd / 4 * ((n_rows + kRows - 1) / kRows) + (hd + 63) / 64 * blocks * 16;
  }

  static void PackK(const int8_t* k, int64_t stride, int64_t hd, uint8_t* packed, KvPrefetch* pf) {
    const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
    for (int64_t d = 0; d < hd; d += 4) {
      pf->Step();
      __m512i r[4];
      for (int i = 0; i < 4; ++i)
        r[i] = _mm512_xor_si512(_mm512_loadu_si512(k + (d + i) * stride), flip);
      Interleave4(r, reinterpret_cast<__m512i*>(packed + d * kAttnKeyTile));
    }
  }

  // A tile's V ([kAttnKeyTile, hd] bytes) as, per key quad and chunk of 64
  // dimensions, four interleaved vectors (dimensions past hd are 0).
  static void PackV(const int8_t* v, int64_t hd, uint8_t* packed) {
    const int64_t chunks = (hd + 63) / 64;
    __m512i* out = reinterpret_cast<__m512i*>(packed);
    for (int64_t kq = 0; kq < kAttnKeyTile / 4; ++kq) {
      for (int64_t c = 0; c < chunks; ++c, out += 4) {
        const int64_t n = std::min<int64_t>(64, hd - 64 * c);
        const __mmask64 mask = n == 64 ? ~__mmask64{0} : (__mmask64{1} << n) - 1;
        __m512i r[4];
        for (int i = 0; i < 4; ++i)
          r[i] = _mm512_maskz_loadu_epi8(mask, v + (4 * kq + i) * hd + 64 * c);
        Interleave4(r, out);
      }
    }
  }

  // O += P V for every row: s holds the 8-bit weights (0..255 as floats,
  // zero past the tile's keys), step each row's weight step.
  static void PvI8(int64_t n_rows, const float* s, const float* step, const uint8_t* packed,
                   int64_t hd, float* o, int64_t hp, KvPrefetch* pf) {
    alignas(64) uint8_t u[kAttnRows * kAttnKeyTile];
    for (int64_t r = 0; r < n_rows; ++r)
      for (int n = 0; n < 4; ++n)
        _mm_store_si128(reinterpret_cast<__m128i*>(u + r * kAttnKeyTile + 16 * n),
                        _mm512_cvtusepi32_epi8(
                            _mm512_cvtps_epi32(_mm512_loadu_ps(s + r * kAttnKeyTile + 16 * n))));
    PvTile t{reinterpret_cast<const __m512i*>(packed), (hd + 63) / 64, 0, hd, hp, pf};
    for (t.c = 0; t.c < t.chunks; ++t.c) PvI8Rows<kPvI8Rows>(n_rows, u, step, t, o);
  }

  // Scores of R rows over the tile: s[r, j] = (q_r . (k_j + 128) - corr_r)
  // x q scale_r x K scale_j.
  template <int R>
  static void QkI8(const int8_t* q, int64_t hp, int64_t hd, const uint8_t* packed,
                   const float* q_scale, const int32_t* corr, const uint16_t* k_scale, float* s,
                   KvPrefetch* pf) {
    __m512i acc[R][4];
    for (int r = 0; r < R; ++r)
      for (int m = 0; m < 4; ++m) acc[r][m] = _mm512_setzero_si512();
    for (int64_t d = 0; d < hd; d += 4) {
      pf->Step();
      const __m512i* kp = reinterpret_cast<const __m512i*>(packed + d * kAttnKeyTile);
      const __m512i k0 = _mm512_load_si512(kp), k1 = _mm512_load_si512(kp + 1);
      const __m512i k2 = _mm512_load_si512(kp + 2), k3 = _mm512_load_si512(kp + 3);
      for (int r = 0; r < R; ++r) {
        int32_t q4;
        __builtin_memcpy(&q4, q + r * hp + d, 4);
        const __m512i qb = _mm512_set1_epi32(q4);
        acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], k0, qb);
        acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], k1, qb);
        acc[r][2] = _mm512_dpbusd_epi32(acc[r][2], k2, qb);
        acc[r][3] = _mm512_dpbusd_epi32(acc[r][3], k3, qb);
      }
    }
    __m512 ks[4];
    for (int n = 0; n < 4; ++n) ks[n] = LoadF16(k_scale + 16 * n);
    for (int r = 0; r < R; ++r) {
      const __m512i c = _mm512_set1_epi32(corr[r]);
      __m512i x[4], o[4];
      for (int m = 0; m < 4; ++m) x[m] = _mm512_sub_epi32(acc[r][m], c);
      Deinterleave4(x, o);  // key block n = lane n of x0..x3
      const __m512 qs = _mm512_set1_ps(q_scale[r]);
      for (int n = 0; n < 4; ++n)
        _mm512_storeu_ps(s + r * kAttnKeyTile + 16 * n,
                         _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(o[n]), qs), ks[n]));
    }
  }
};

static_assert(kInt8Dot<Avx512Vnni>, "the tiled kernel must take the integer q . K path");

}  // namespace

namespace internal {
KvAttentionFn Avx512VnniKvAttention() { return TiledKvAttention<Avx512Vnni>; }
}  // namespace internal

}  // namespace glmq::cpu
