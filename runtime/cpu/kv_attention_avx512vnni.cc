// The tiled KV attention with AVX-512 vectors and, for int8 KV, q . K as
// integer dot products with VNNI (vpdpbusd: 64 byte products per
// instruction against 16 FMAs; this file is compiled with the AVX-512 flags
// and -mavx512vnni). The rest (softmax, P V, other KV types) is the AVX-512
// kernel's code.
//
// PackK turns a tile's K, stored as head_dim rows of kTk int8 keys, into
// groups of 4 dimensions: for dims 4i..4i+3, four vectors whose 32-bit lane
// holds one key's 4 bytes, as k + 128 (vpdpbusd multiplies unsigned by
// signed bytes; the query is the signed side and each row's 128 x sum(q) is
// subtracted after). Unpacking 4 rows of 64 keys leaves vector m, lane L,
// word w holding key 16 L + 4 m + w; QkI8 puts the scores back in key order.
#include "runtime/cpu/kv_attention_tiled.h"
#include "runtime/cpu/simd_vec_avx512.h"

namespace glmq::cpu {
namespace {

static_assert(kAttnKeyTile == 64, "PackK and QkI8 handle 64 keys as one vector of bytes");

struct Avx512Vnni : Avx512Vec {
  static constexpr int kRows = 6, kVecs = 4, kPvRows = 8, kPvVecs = 3;  // as the AVX-512 kernel
  static constexpr bool kInt8Dot = true;

  static void PackK(const int8_t* k, int64_t stride, int64_t hd, uint8_t* packed) {
    const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
    for (int64_t d = 0; d < hd; d += 4) {
      __m512i r[4];
      for (int i = 0; i < 4; ++i)
        r[i] = _mm512_xor_si512(_mm512_loadu_si512(k + (d + i) * stride), flip);
      const __m512i a = _mm512_unpacklo_epi8(r[0], r[1]), b = _mm512_unpackhi_epi8(r[0], r[1]);
      const __m512i c = _mm512_unpacklo_epi8(r[2], r[3]), e = _mm512_unpackhi_epi8(r[2], r[3]);
      __m512i* out = reinterpret_cast<__m512i*>(packed + d * kAttnKeyTile);
      _mm512_store_si512(out + 0, _mm512_unpacklo_epi16(a, c));
      _mm512_store_si512(out + 1, _mm512_unpackhi_epi16(a, c));
      _mm512_store_si512(out + 2, _mm512_unpacklo_epi16(b, e));
      _mm512_store_si512(out + 3, _mm512_unpackhi_epi16(b, e));
    }
  }

  // Scores of R rows over the tile: s[r, j] = (q_r . (k_j + 128) - corr_r)
  // x q scale_r x K scale_j.
  template <int R>
  static void QkI8(const int8_t* q, int64_t hp, int64_t hd, const uint8_t* packed,
                   const float* q_scale, const int32_t* corr, const uint16_t* k_scale, float* s) {
    __m512i acc[R][4];
    for (int r = 0; r < R; ++r)
      for (int m = 0; m < 4; ++m) acc[r][m] = _mm512_setzero_si512();
    for (int64_t d = 0; d < hd; d += 4) {
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
      __m512i x[4];
      for (int m = 0; m < 4; ++m) x[m] = _mm512_sub_epi32(acc[r][m], c);
      // 128-bit lane transpose: key block n = lane n of x0..x3.
      const __m512i t0 = _mm512_shuffle_i32x4(x[0], x[1], 0x44);
      const __m512i t1 = _mm512_shuffle_i32x4(x[2], x[3], 0x44);
      const __m512i t2 = _mm512_shuffle_i32x4(x[0], x[1], 0xee);
      const __m512i t3 = _mm512_shuffle_i32x4(x[2], x[3], 0xee);
      const __m512i o[4] = {_mm512_shuffle_i32x4(t0, t1, 0x88), _mm512_shuffle_i32x4(t0, t1, 0xdd),
                            _mm512_shuffle_i32x4(t2, t3, 0x88), _mm512_shuffle_i32x4(t2, t3, 0xdd)};
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
