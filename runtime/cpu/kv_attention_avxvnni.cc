// The tiled KV attention with AVX2 vectors and, for int8 KV, q . K and P V
// as integer dot products with AVX-VNNI (the VEX vpdpbusd of client cores
// without AVX-512: 32 byte products per instruction against 8 FMAs; this
// file is compiled with -mavx2 -mfma -mf16c -mavxvnni). The rest (softmax,
// the other KV types) is the AVX2 kernel's code; the scheme is the AVX-512
// VNNI kernel's (kv_attention_avx512vnni.cc) on 8 lanes, with the packed
// tiles in key (q . K) and dimension (P V) order, so no result needs a
// shuffle.
//
// PackK turns a tile's K, stored as head_dim rows of kTk int8 keys, into
// groups of 4 dimensions: per group 8 vectors, vector n holding keys 8 n ..
// 8 n + 7, each key's 4 bytes, as k + 128 (vpdpbusd multiplies unsigned by
// signed bytes; the query is the signed side and each row's 128 x sum(q) is
// subtracted after). PackV: per key quad and 32 dimensions, 4 vectors,
// vector m holding dimensions 8 m .. 8 m + 7, each the 4 keys' bytes; PvI8
// multiplies them by the 8-bit weights (the unsigned side, kv_attention.h
// PWeightsInt8Inv), accumulating a tile in int32 before one f32 update of O.
#include "runtime/cpu/kv_attention_tiled.h"
#include "runtime/cpu/simd_vec_avx2.h"

namespace glmq::cpu {
namespace {

static_assert(kAttnKeyTile == 64, "PackK, QkI8 and PvI8 handle 64 keys as two vectors of bytes");

// Four rows of 32 bytes as four vectors of 4-byte words in element order:
// out[v], word w = bytes 8 v + w of rows 0..3.
inline void Interleave4(const __m256i r[4], __m256i* out) {
  const __m256i a = _mm256_unpacklo_epi8(r[0], r[1]), b = _mm256_unpackhi_epi8(r[0], r[1]);
  const __m256i c = _mm256_unpacklo_epi8(r[2], r[3]), e = _mm256_unpackhi_epi8(r[2], r[3]);
  const __m256i x0 = _mm256_unpacklo_epi16(a, c);  // elements 0-3 | 16-19
  const __m256i x1 = _mm256_unpackhi_epi16(a, c);  // 4-7 | 20-23
  const __m256i x2 = _mm256_unpacklo_epi16(b, e);  // 8-11 | 24-27
  const __m256i x3 = _mm256_unpackhi_epi16(b, e);  // 12-15 | 28-31
  _mm256_store_si256(out + 0, _mm256_permute2x128_si256(x0, x1, 0x20));
  _mm256_store_si256(out + 1, _mm256_permute2x128_si256(x2, x3, 0x20));
  _mm256_store_si256(out + 2, _mm256_permute2x128_si256(x0, x1, 0x31));
  _mm256_store_si256(out + 3, _mm256_permute2x128_si256(x2, x3, 0x31));
}

// 32 floats holding integers 0..255 as bytes, in order.
inline __m256i FloatsToBytes(const float* s) {
  const __m256i a = _mm256_cvtps_epi32(_mm256_loadu_ps(s));
  const __m256i b = _mm256_cvtps_epi32(_mm256_loadu_ps(s + 8));
  const __m256i c = _mm256_cvtps_epi32(_mm256_loadu_ps(s + 16));
  const __m256i d = _mm256_cvtps_epi32(_mm256_loadu_ps(s + 24));
  // Per 128-bit lane: a, b, c, d's first four, then their last four.
  const __m256i p = _mm256_packus_epi16(_mm256_packus_epi32(a, b), _mm256_packus_epi32(c, d));
  return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

constexpr int kPvI8Rows = 2;  // 2 rows x 4 accumulators + 4 V vectors + 1 broadcast of 16

// O[r, 32 c ..] += step_r x sum_j u[r, j] V[j, 32 c ..] for R rows.
template <int R>
void PvI8Block(const uint8_t* u, const float* step, const __m256i* packed, int64_t chunks,
               int64_t c, float* o, int64_t hp, KvPrefetch* pf) {
  __m256i acc[R][4];
  for (int r = 0; r < R; ++r)
    for (int m = 0; m < 4; ++m) acc[r][m] = _mm256_setzero_si256();
  for (int64_t kq = 0; kq < kAttnKeyTile / 4; ++kq) {
    pf->Step();
    const __m256i* vp = packed + (kq * chunks + c) * 4;
    __m256i v[4];
    for (int m = 0; m < 4; ++m) v[m] = _mm256_load_si256(vp + m);
    for (int r = 0; r < R; ++r) {
      int32_t u4;
      __builtin_memcpy(&u4, u + r * kAttnKeyTile + 4 * kq, 4);
      const __m256i ub = _mm256_set1_epi32(u4);
      for (int m = 0; m < 4; ++m) acc[r][m] = _mm256_dpbusd_avx_epi32(acc[r][m], ub, v[m]);
    }
  }
  for (int r = 0; r < R; ++r) {
    const __m256 st = _mm256_set1_ps(step[r]);
    float* orow = o + r * hp + 32 * c;
    for (int m = 0; m < 4; ++m)
      _mm256_storeu_ps(orow + 8 * m, _mm256_fmadd_ps(st, _mm256_cvtepi32_ps(acc[r][m]),
                                                     _mm256_loadu_ps(orow + 8 * m)));
  }
}

struct AvxVnni : Avx2Vec {
  static constexpr int kRows = 4, kVecs = 2, kPvRows = 4, kPvVecs = 2;  // as the AVX2 kernel
  static constexpr bool kInt8Dot = true;
  static constexpr int64_t kQkPasses = 4;  // QkI8 scores 16 keys (2 vectors) per pass

  // Prefetch Steps of one tile of n_rows rows: PackK's, QkI8's (kRows rows
  // and 16 keys at a time) and PvI8's (kPvI8Rows rows per key quad) loops.
  static int64_t Steps(int64_t n_rows, int64_t hd) {
    const int64_t qk_blocks = (n_rows + kRows - 1) / kRows;
    const int64_t pv_blocks = (n_rows + kPvI8Rows - 1) / kPvI8Rows;
    return hd / 4 + hd / 4 * kQkPasses * qk_blocks + hd / 32 * pv_blocks * 16;
  }

  static void PackK(const int8_t* k, int64_t stride, int64_t hd, uint8_t* packed, KvPrefetch* pf) {
    const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
    for (int64_t d = 0; d < hd; d += 4) {
      pf->Step();
      for (int64_t h = 0; h < 2; ++h) {
        __m256i r[4];
        for (int i = 0; i < 4; ++i)
          r[i] = _mm256_xor_si256(
              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(k + (d + i) * stride + 32 * h)),
              flip);
        Interleave4(r, reinterpret_cast<__m256i*>(packed + d * kAttnKeyTile + 128 * h));
      }
    }
  }

  // A tile's V ([kAttnKeyTile, hd] bytes, hd a multiple of 32) as, per key
  // quad and chunk of 32 dimensions, four vectors in dimension order.
  static void PackV(const int8_t* v, int64_t hd, uint8_t* packed) {
    __m256i* out = reinterpret_cast<__m256i*>(packed);
    for (int64_t kq = 0; kq < kAttnKeyTile / 4; ++kq) {
      for (int64_t c = 0; c < hd / 32; ++c, out += 4) {
        __m256i r[4];
        for (int i = 0; i < 4; ++i)
          r[i] =
              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(v + (4 * kq + i) * hd + 32 * c));
        Interleave4(r, out);
      }
    }
  }

  // O += P V for every row: s holds the 8-bit weights (0..255 as floats,
  // zero past the tile's keys), step each row's weight step.
  static void PvI8(int64_t n_rows, const float* s, const float* step, const uint8_t* packed,
                   int64_t hd, float* o, int64_t hp, KvPrefetch* pf) {
    alignas(32) uint8_t u[kAttnRows * kAttnKeyTile];
    for (int64_t r = 0; r < n_rows; ++r)
      for (int n = 0; n < 2; ++n)
        _mm256_store_si256(reinterpret_cast<__m256i*>(u + r * kAttnKeyTile + 32 * n),
                           FloatsToBytes(s + r * kAttnKeyTile + 32 * n));
    const __m256i* pv = reinterpret_cast<const __m256i*>(packed);
    const int64_t chunks = hd / 32;
    for (int64_t c = 0; c < chunks; ++c) {
      int64_t r = 0;
      for (; r + kPvI8Rows <= n_rows; r += kPvI8Rows)
        PvI8Block<kPvI8Rows>(u + r * kAttnKeyTile, step + r, pv, chunks, c, o + r * hp, hp, pf);
      if (r < n_rows)
        PvI8Block<1>(u + r * kAttnKeyTile, step + r, pv, chunks, c, o + r * hp, hp, pf);
    }
  }

  // Scores of R rows over the tile: s[r, j] = (q_r . (k_j + 128) - corr_r)
  // x q scale_r x K scale_j, 16 keys per pass.
  template <int R>
  static void QkI8(const int8_t* q, int64_t hp, int64_t hd, const uint8_t* packed,
                   const float* q_scale, const int32_t* corr, const uint16_t* k_scale, float* s,
                   KvPrefetch* pf) {
    for (int64_t pass = 0; pass < kQkPasses; ++pass) {
      __m256i acc[R][2];
      for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
      for (int64_t d = 0; d < hd; d += 4) {
        pf->Step();
        const __m256i* kp = reinterpret_cast<const __m256i*>(packed + d * kAttnKeyTile) + 2 * pass;
        const __m256i k0 = _mm256_load_si256(kp), k1 = _mm256_load_si256(kp + 1);
        for (int r = 0; r < R; ++r) {
          int32_t q4;
          __builtin_memcpy(&q4, q + r * hp + d, 4);
          const __m256i qb = _mm256_set1_epi32(q4);
          acc[r][0] = _mm256_dpbusd_avx_epi32(acc[r][0], k0, qb);
          acc[r][1] = _mm256_dpbusd_avx_epi32(acc[r][1], k1, qb);
        }
      }
      for (int r = 0; r < R; ++r) {
        const __m256i c = _mm256_set1_epi32(corr[r]);
        const __m256 qs = _mm256_set1_ps(q_scale[r]);
        for (int n = 0; n < 2; ++n) {
          const int64_t j = 16 * pass + 8 * n;
          const __m256 x = _mm256_cvtepi32_ps(_mm256_sub_epi32(acc[r][n], c));
          _mm256_storeu_ps(s + r * kAttnKeyTile + j,
                           _mm256_mul_ps(_mm256_mul_ps(x, qs), LoadF16(k_scale + j)));
        }
      }
    }
  }
};

static_assert(kInt8Dot<AvxVnni>, "the tiled kernel must take the integer q . K path");

}  // namespace

namespace internal {
KvAttentionFn AvxVnniKvAttention() { return TiledKvAttention<AvxVnni>; }
}  // namespace internal

}  // namespace glmq::cpu
