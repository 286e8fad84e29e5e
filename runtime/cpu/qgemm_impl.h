// The prefill GEMM of QuantMatMul (n_tokens >= 2), shared by qgemm_avx2.cc
// and qgemm_avx512.cc (each compiled with its own -m flags; everything here
// has internal linkage per file).
//
// Weights go in the "rows in lanes" form: a panel of L::kRows weight rows and
// kKc values is unpacked once to u8 (q8 as w ^ 0x80 or as w, q4/q4a
// nibbles) and stored as [kKc / 4][kRows][4] bytes, so that one vector of
// int32 lanes holds kRows / n output rows and one dot-product instruction
// multiplies 4 values of each row with the same 4 activations of a token,
// broadcast. Per activation block of 32 values, a (rows, token) int32 sum is
// exact; it is converted once and scaled by the block's weight scale times
// the token's block scale. The panel (kRows x kKc bytes) stays in L1 while
// every token of the call passes over it in tiles of L::kTile tokens, so each
// weight group is unpacked once per call instead of once per token. The
// activations are quantized in K blocks of kKc values (ActQ::kc), so a
// tile's tokens are kKc bytes apart (not a row of cols: same L1 set, 13 %
// slower), and a panel's sums stay in a contiguous [tokens, kRows] buffer
// across K blocks before they go to y.
//
// Same terms as the scalar reference (qmatmul_scalar.cc), summed in another
// order: per block, the stored values' int32 product with the block's
// activations, minus bias x the block's q sum (q8 stored + 128, q4 nibbles =
// q + 8; in int32, exact), times scale_g x ascale_b; q4a adds min_g x
// block_fsum_b per block. Differences are f32 rounding only.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "runtime/cpu/qmatmul_internal.h"

namespace glmq::qk {
namespace {

// Values per panel: kRows x kKc bytes of weights (16 KiB at 32 rows) plus
// their block scales stay in L1 with a tile's activations.
constexpr int64_t kKc = kQGemmKc;
// Tokens per pass over a panel: all of a call up to this many (their
// [tokens, kKc] activations, 512 KiB, stay in L2).
constexpr int64_t kNc = 1024;

// Per block of 32 values of the panel, per row: weight scale and (q4a) min.
struct Panel {
  uint8_t* vals = nullptr;  // [kb / 4][rows][4]
  float* scale = nullptr;   // [kb / 32][rows]
  float* min = nullptr;     // [kb / 32][rows], q4a only
};

// Where block b of a K block lies in every stored row (the same in each):
// its group's header at `header`, its values at `vals` (q8: 32 bytes; q4
// g32: 16 bytes, low then high nibbles; q4 g >= 64: 32 bytes whose low or,
// with `high`, high nibbles they are).
struct BlockSrc {
  int64_t header = 0;
  int64_t vals = 0;
  bool high = false;
};

inline void BlockSources(const GroupGeometry& geo, int64_t k0, int64_t kb, BlockSrc* src) {
  const int64_t half = geo.g / 2;
  for (int64_t b = 0; b < kb / 32; ++b) {
    const int64_t k = k0 + 32 * b, gi = k / geo.g, o = k % geo.g;
    BlockSrc& s = src[b];
    s.header = gi * geo.group_bytes;
    s.vals = s.header + geo.traits->group_header_bytes;
    if (geo.traits->value_bits == 8) {
      s.vals += o;
    } else if (geo.g > 32) {
      s.high = o >= half;
      s.vals += s.high ? o - half : o;
    }
  }
}

// How the stored values enter the dot products.
enum class Kind { kQ8, kQ4Sym, kQ4Asym };

inline Kind KindOf(const EncodingTraits& t) {
  if (t.value_bits == 8) return Kind::kQ8;
  return t.has_min ? Kind::kQ4Asym : Kind::kQ4Sym;
}

inline float HalfToFloat(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

// The block scales (and q4a mins) of rows [r, r + nr) for the kb / 32
// blocks at src (kRows rows; rows past nr get 0).
template <int kRows>
void PackScales(const WeightView& w, const GroupGeometry& geo, const BlockSrc* src, int64_t r,
                int64_t nr, int64_t kb, Panel* p) {
  const bool has_min = geo.traits->has_min;
  for (int64_t b = 0; b < kb / 32; ++b) {
    float* s = p->scale + b * kRows;
    float* m = p->min + b * kRows;
    for (int64_t i = 0; i < kRows; ++i) {
      const uint8_t* grp = w.data + (r + i) * geo.row_bytes + src[b].header;
      s[i] = i < nr ? HalfToFloat(grp) : 0.f;
      if (has_min) m[i] = i < nr ? HalfToFloat(grp + 2) : 0.f;
    }
  }
}

// Tokens [tb, te) in tiles of L::kTile, the rest in one smaller tile; c:
// the sums of token tb.
template <class L, Kind K, int T = L::kTile>
inline void TokenTiles(const Panel& p, const ActQ& a, int64_t tb, int64_t te, int64_t k0,
                       int64_t kb, bool first, float* c) {
  int64_t t = tb;
  for (; t + T <= te; t += T, c += T * L::kRows) L::template Tile<T, K>(p, a, t, k0, kb, first, c);
  if constexpr (T > 1) {
    if (t < te) TokenTiles<L, K, T - 1>(p, a, t, te, k0, kb, first, c);
  }
}

// The loop nest of one thread: rows [r0, r1) of y, every token. L supplies
//   kRows, kTile, Pack(w, geo, src, r, nr, kb, panel) and
//   Tile<T, K>(panel, a, t0, k0, kb, first, c): c[t * kRows + i] (=, or += when
//   not first) the sums of the K block for token t0 + t and panel row i;
//   StoreRows(c, nr, y): y[i] = c[i] for i < nr.
// A panel's sums over all K blocks stay in `c` ([tokens, kRows], L2) and go
// to y once: y's rows of a panel are a token's stride apart, and revisiting
// them per K block thrashed the caches and the TLB.
template <class L>
void GemmRows(const WeightView& w, const GroupGeometry& geo, const ActQ& a, int64_t r0,
              int64_t r1, float* y) {
  const int64_t kpad = geo.n_groups * geo.g;
  thread_local std::vector<uint8_t> vals;
  thread_local std::vector<float> scales, sums;
  vals.resize(L::kRows * kKc + 64);
  scales.resize(2 * L::kRows * (kKc / 32) + 16);
  sums.resize(std::min(kNc, a.n_tokens) * L::kRows + 16);
  float* c = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(sums.data()) + 63) & ~uintptr_t{63});
  Panel p;
  p.vals = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(vals.data()) + 63) & ~uintptr_t{63});
  p.scale = scales.data();
  p.min = scales.data() + L::kRows * (kKc / 32);
  const Kind kind = KindOf(*geo.traits);
  BlockSrc src[kKc / 32];
  for (int64_t tb = 0; tb < a.n_tokens; tb += kNc) {
    const int64_t te = std::min(a.n_tokens, tb + kNc);
    for (int64_t r = r0; r < r1; r += L::kRows) {
      const int64_t nr = std::min<int64_t>(L::kRows, r1 - r);
      for (int64_t k0 = 0; k0 < kpad; k0 += kKc) {
        const int64_t kb = std::min(kKc, kpad - k0);
        BlockSources(geo, k0, kb, src);
        L::Pack(w, geo, src, r, nr, kb, &p);
        PackScales<L::kRows>(w, geo, src, r, nr, kb, &p);
        const bool first = k0 == 0;
        switch (kind) {
          case Kind::kQ8:
            TokenTiles<L, Kind::kQ8>(p, a, tb, te, k0, kb, first, c);
            break;
          case Kind::kQ4Sym:
            TokenTiles<L, Kind::kQ4Sym>(p, a, tb, te, k0, kb, first, c);
            break;
          case Kind::kQ4Asym:
            TokenTiles<L, Kind::kQ4Asym>(p, a, tb, te, k0, kb, first, c);
            break;
        }
      }
      for (int64_t t = tb; t < te; ++t) L::StoreRows(c + (t - tb) * L::kRows, nr, y + t * w.rows + r);
    }
  }
}

}  // namespace
}  // namespace glmq::qk
