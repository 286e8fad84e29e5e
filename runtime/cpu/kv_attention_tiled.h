// The tiled causal attention over the block KV cache (kv_attention.h) as one
// template over a vector-traits struct V (kv_attention_scalar.cc, _avx2.cc,
// _avx512.cc, each compiled with its own -m flags; internal linkage, so the
// instantiations never mix) and the stored KV type T.
//
// A work item is (kv head g, query tile, key range). Its rows are the
// query_tile positions x the group's heads (row r = position r / G, head
// g G + r % G), queries pre-scaled by 1 / sqrt(head_dim). Per key tile of
// kAttnKeyTile positions j0 ..:
//   S = q K^T (K read as [head_dim, B] columns; int8: q quantized per row
//   (kv_attention.h QueryInt8), S *= q scale x K scale per key; a traits
//   struct with kInt8Dot packs each K tile and takes the dot products in
//   integers)
//   per row, over its causal keys: m' = max(m, max S); c = exp(m - m');
//   P = exp(S - m'); l = l c + sum P; O = O c (int8: P *= V scale per key,
//   then 8-bit per row and tile, kv_attention.h PWeightsInt8Inv)
//   O += P V (V read as [B, head_dim] rows; int8 with kInt8Dot: V::PackV
//   packs the tile, V::PvI8 takes the products in integers)
// Items that split one query tile's keys store (O, m, l) as partials, merged
// at the end: M = max m_s, L = sum l_s e^(m_s - M), out = sum O_s e^(m_s - M) / L.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cmath>

#include "runtime/attention_tiling.h"
#include "runtime/cpu/kv_attention.h"
#include "runtime/cpu/simd_exp.h"

namespace glmq::cpu {
namespace {

constexpr int64_t kTk = kAttnKeyTile;
// Below this many multiply-adds an OpenMP team costs more than it saves
// (and on a loaded machine a barrier can cost a scheduler tick).
constexpr int64_t kMinParallelMacs = int64_t{1} << 18;

// V::kWidth stored values from element i of `base` as f32 (unscaled).
template <class V, KvType T>
inline typename V::Vec LoadKv(const void* base, int64_t i) {
  if constexpr (T == KvType::kF32) return V::Load(static_cast<const float*>(base) + i);
  if constexpr (T == KvType::kBF16) return V::LoadBf16(static_cast<const uint16_t*>(base) + i);
  if constexpr (T == KvType::kF16) return V::LoadF16(static_cast<const uint16_t*>(base) + i);
  if constexpr (T == KvType::kInt8) return V::LoadI8(static_cast<const int8_t*>(base) + i);
}

// Cache lines of the next block's K and V, requested while this block's
// tiles are computed: at long contexts the cache comes from memory, and the
// tiles walk K's [head_dim, B] rows in 64-key pieces, which the hardware
// prefetchers miss. Each tile of a block asks for its quarter of the next
// block's K and V of the same head, in address order: one line of each per
// key of P V, or (kInt8Dot) spread evenly over all of the tile's loop steps
// (V::Steps), which keeps requests in flight through q . K as well (a
// quarter fewer cycles per cold int8 step than asking only during P V).
struct KvPrefetch {
  const char *k = nullptr, *k_end = nullptr, *v = nullptr, *v_end = nullptr;
  // Bytes per Step of each: value_bytes lines (P V takes >= 192 Steps per
  // tile), or the kInt8Dot tile's even share over V::Steps.
  int64_t step = 0;
  void Step() {
    for (int64_t b = 0; b < step && k < k_end; b += 64, k += 64) __builtin_prefetch(k, 0, 3);
    for (int64_t b = 0; b < step && v < v_end; b += 64, v += 64) __builtin_prefetch(v, 0, 3);
  }
};

// One key tile of one item, in a block: K from its first column (row
// stride B), V from its first row (stride head_dim); f16 scales (int8) of
// the tile's positions.
struct KeyTile {
  const void* k;
  const void* v;
  const uint16_t* k_scale;
  const uint16_t* v_scale;
  int64_t j0;                      // first position
  int64_t nk;                      // positions [j0, j0 + nk) are written (<= kTk)
  KvPrefetch* prefetch = nullptr;  // lines of the next block to ask for
};

// S[r, c0 + i] for R rows x C vectors of keys from column c0; q: rows of hp
// floats, s: rows of kTk.
template <class V, KvType T, int R, int C>
inline void QkMicro(const float* q, int64_t hp, int64_t hd, const KeyTile& kt, int64_t stride,
                    int64_t c0, float* s) {
  typename V::Vec acc[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) acc[r][c] = V::Zero();
  for (int64_t d = 0; d < hd; ++d) {
    typename V::Vec k[C];
    for (int c = 0; c < C; ++c) k[c] = LoadKv<V, T>(kt.k, d * stride + c0 + c * V::kWidth);
    for (int r = 0; r < R; ++r) {
      const typename V::Vec qb = V::Set1(q[r * hp + d]);
      for (int c = 0; c < C; ++c) acc[r][c] = V::Fma(qb, k[c], acc[r][c]);
    }
  }
  for (int c = 0; c < C; ++c) {
    if constexpr (T == KvType::kInt8) {
      const typename V::Vec sc = V::LoadF16(kt.k_scale + c0 + c * V::kWidth);
      for (int r = 0; r < R; ++r) acc[r][c] = V::Mul(acc[r][c], sc);
    }
    for (int r = 0; r < R; ++r) V::Store(s + r * kTk + c0 + c * V::kWidth, acc[r][c]);
  }
}

// Scores of n_rows rows over the whole tile: R-row micro-tiles, the
// remaining rows with R - 1, R - 2, ...
template <class V, KvType T, int R>
inline void QkRows(int64_t n_rows, const float* q, int64_t hp, int64_t hd, const KeyTile& kt,
                   int64_t stride, float* s) {
  constexpr int64_t kStep = V::kVecs * V::kWidth;
  int64_t r = 0;
  for (; r + R <= n_rows; r += R)
    for (int64_t c0 = 0; c0 < kTk; c0 += kStep)
      QkMicro<V, T, R, V::kVecs>(q + r * hp, hp, hd, kt, stride, c0, s + r * kTk);
  if constexpr (R > 1) {
    if (r < n_rows) QkRows<V, T, R - 1>(n_rows - r, q + r * hp, hp, hd, kt, stride, s + r * kTk);
  }
}

// Whether V computes int8 q . K in integers: V::PackK(k, stride, hd, packed)
// packs a tile's K columns, V::QkI8<R>(...) scores R rows from them.
template <class V>
constexpr bool kInt8Dot = requires {
  requires V::kInt8Dot;
};

// The int8 query rows of an item (kInt8Dot): bytes [rows, hp], then each
// row's scale and 128 x its sum (the packed K is stored as k + 128).
struct QueryI8 {
  int8_t* q;
  float* scale;
  int32_t* corr;
};

template <class V, int R>
inline void QkI8Rows(int64_t n_rows, const QueryI8& q, int64_t hp, int64_t hd,
                     const uint8_t* packed, const uint16_t* k_scale, float* s, KvPrefetch* pf) {
  int64_t r = 0;
  for (; r + R <= n_rows; r += R)
    V::template QkI8<R>(q.q + r * hp, hp, hd, packed, q.scale + r, q.corr + r, k_scale, s + r * kTk,
                        pf);
  if constexpr (R > 1) {
    if (r < n_rows) {
      const QueryI8 rest{q.q + r * hp, q.scale + r, q.corr + r};
      QkI8Rows<V, R - 1>(n_rows - r, rest, hp, hd, packed, k_scale, s + r * kTk, pf);
    }
  }
}

// O[r, col0 ..] += sum_{j < nk} P[r, j] V[j, col0 ..] for R rows x C vectors.
template <class V, KvType T, int R, int C>
inline void PvMicro(const float* p, const KeyTile& kt, int64_t hd, int64_t col0, float* o,
                    int64_t hp) {
  typename V::Vec acc[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) acc[r][c] = V::Load(o + r * hp + col0 + c * V::kWidth);
  for (int64_t j = 0; j < kt.nk; ++j) {
    if (kt.prefetch) kt.prefetch->Step();
    typename V::Vec vv[C];
    for (int c = 0; c < C; ++c) vv[c] = LoadKv<V, T>(kt.v, j * hd + col0 + c * V::kWidth);
    for (int r = 0; r < R; ++r) {
      const typename V::Vec pb = V::Set1(p[r * kTk + j]);
      for (int c = 0; c < C; ++c) acc[r][c] = V::Fma(pb, vv[c], acc[r][c]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) V::Store(o + r * hp + col0 + c * V::kWidth, acc[r][c]);
}

// All head_dim columns of R rows: kPvVecs vectors at a time, then the rest.
template <class V, KvType T, int R>
inline void PvCols(const float* p, const KeyTile& kt, int64_t hd, float* o, int64_t hp) {
  constexpr int64_t kStep = V::kPvVecs * V::kWidth;
  int64_t c = 0;
  for (; c + kStep <= hd; c += kStep) PvMicro<V, T, R, V::kPvVecs>(p, kt, hd, c, o, hp);
  const int64_t rest = (hd - c) / V::kWidth;  // hd is a multiple of kWidth
  if constexpr (V::kPvVecs > 3) {
    if (rest == 3) return PvMicro<V, T, R, 3>(p, kt, hd, c, o, hp);
  }
  if constexpr (V::kPvVecs > 2) {
    if (rest == 2) return PvMicro<V, T, R, 2>(p, kt, hd, c, o, hp);
  }
  if (rest == 1) PvMicro<V, T, R, 1>(p, kt, hd, c, o, hp);
}

template <class V, KvType T, int R>
inline void PvRows(int64_t n_rows, const float* p, const KeyTile& kt, int64_t hd, float* o,
                   int64_t hp) {
  int64_t r = 0;
  for (; r + R <= n_rows; r += R) PvCols<V, T, R>(p + r * kTk, kt, hd, o + r * hp, hp);
  if constexpr (R > 1) {
    if (r < n_rows) PvRows<V, T, R - 1>(n_rows - r, p + r * kTk, kt, hd, o + r * hp, hp);
  }
}

// One thread's tiles (runtime/attention_tiling.h ThreadFloats order); with
// kInt8Dot the q tile holds the int8 rows (QueryI8) instead of floats.
struct Tiles {
  float *q, *o, *s, *m, *l;
  QueryI8 q8;
  Tiles(const AttentionTiling& t, float* base) {
    const int64_t r = t.rows(), hp = t.head_dim_pad();
    q = base;
    o = q + r * hp;
    s = o + r * hp;
    m = s + r * kAttnKeyTile;
    l = m + r;
    int8_t* bytes = reinterpret_cast<int8_t*>(q);
    q8.q = bytes;
    q8.scale = reinterpret_cast<float*>(bytes + r * hp);
    q8.corr = reinterpret_cast<int32_t*>(bytes + r * hp + 4 * r);
  }
};

// Row r's query (times 1 / sqrt(head_dim)) into the q tile: floats, or for
// int8 KV the int8 round trip (kv_attention.h), kept as bytes for kInt8Dot.
template <class V, KvType T>
void LoadQueryRow(const float* x, float mul, int64_t hd, int64_t hp, int64_t r, Tiles& w) {
  if constexpr (T != KvType::kInt8) {
    for (int64_t d = 0; d < hd; ++d) w.q[r * hp + d] = x[d] * mul;
  } else {
    const float sq = QueryInt8Scale(x, mul, hd), inv = sq > 0.f ? 1.0f / sq : 0.f;
    if constexpr (kInt8Dot<V>) {
      int8_t* q = w.q8.q + r * hp;
      int32_t sum = 0;
      for (int64_t d = 0; d < hd; ++d) sum += (q[d] = QueryInt8(x[d] * mul, inv));
      w.q8.scale[r] = sq;
      w.q8.corr[r] = 128 * sum;
    } else {
      for (int64_t d = 0; d < hd; ++d) w.q[r * hp + d] = QueryInt8(x[d] * mul, inv) * sq;
    }
  }
}

// What one Attention call works on.
struct Job {
  const float* q;
  int64_t q_stride, n_tokens, pos0;
  AttentionShape shape;
  AttentionTiling tiling;
  const KvCacheView* cache;
  int64_t n_qtiles, splits;
};

// Key tile kt of kv head g, its written positions capped at `end`.
inline KeyTile TileAt(const Job& job, int64_t g, int64_t kt, int64_t end) {
  const KvLayout& l = *job.cache->layout;
  const int64_t j0 = kt * kTk, b = j0 / l.block_tokens, jb = j0 % l.block_tokens;
  const uint8_t* block = static_cast<const uint8_t*>(job.cache->blocks[b]);
  const int64_t vb = l.value_bytes(), layer = job.cache->layer;
  KeyTile t;
  t.k = block + l.ValuesOffset(layer, 0, g) + jb * vb;
  t.v = block + l.ValuesOffset(layer, 1, g) + jb * l.head_dim * vb;
  t.k_scale = l.scaled()
                  ? reinterpret_cast<const uint16_t*>(block + l.ScalesOffset(layer, 0, g)) + jb
                  : nullptr;
  t.v_scale = l.scaled()
                  ? reinterpret_cast<const uint16_t*>(block + l.ScalesOffset(layer, 1, g)) + jb
                  : nullptr;
  t.j0 = j0;
  t.nk = std::min(kTk, end - j0);
  return t;
}

// The share of block b + 1's K and V (head g) that tile kt asks for, if
// that block holds keys of the item (tiles < kt_end).
inline KvPrefetch PrefetchFor(const Job& job, int64_t g, int64_t kt, int64_t kt_end) {
  const KvLayout& l = *job.cache->layout;
  const int64_t per_block = l.block_tokens / kTk, b = kt / per_block + 1;
  KvPrefetch p;
  if (b * per_block >= kt_end) return p;
  const int64_t bytes = l.head_dim * l.block_tokens * l.value_bytes() / per_block;
  const char* block = static_cast<const char*>(job.cache->blocks[b]);
  p.k = block + l.ValuesOffset(job.cache->layer, 0, g) + kt % per_block * bytes;
  p.v = block + l.ValuesOffset(job.cache->layer, 1, g) + kt % per_block * bytes;
  p.k_end = p.k + bytes;
  p.v_end = p.v + bytes;
  p.step = 64 * l.value_bytes();
  return p;
}

// int8: the row's weights P x V scale as 8-bit steps of *step (kv_attention.h
// PWeightsInt8Inv, PWeightsInt8Step): kInt8Dot leaves the integers 0..255 in s for V::PvI8, the
// other kernels their values u x step.
template <class V>
inline void QuantizeWeights(float* s, int64_t valid, const float* v_scale, float* step) {
  int64_t j = 0;
  for (; j + V::kWidth <= valid; j += V::kWidth)
    V::Store(s + j, V::Mul(V::Load(s + j), V::Load(v_scale + j)));
  for (; j < valid; ++j) s[j] *= v_scale[j];
  const float wmax = RowMax<V>(s, valid);
  const float inv = PWeightsInt8Inv(wmax);
  *step = PWeightsInt8Step(wmax);
  const typename V::Vec vi = V::Set1(inv), vs = V::Set1(kInt8Dot<V> ? 1.f : *step);
  for (j = 0; j + V::kWidth <= valid; j += V::kWidth)
    V::Store(s + j, V::Mul(V::Round(V::Mul(V::Load(s + j), vi)), vs));
  for (; j < valid; ++j) s[j] = std::nearbyint(s[j] * inv) * (kInt8Dot<V> ? 1.f : *step);
}

// The online-softmax update of every row for one scored tile; rows before
// the tile's first key (possible in a split range) are left as they are.
template <class V, KvType T>
void SoftmaxStep(const Job& job, int64_t first_pos, int64_t n_rows, const KeyTile& kt, Tiles& w,
                 float* p_step) {
  const int64_t group = job.tiling.group(), hp = job.tiling.head_dim_pad();
  alignas(64) float v_scale[kTk];  // int8: the tile's V scales as f32
  if constexpr (T == KvType::kInt8) {
    for (int64_t j = 0; j < kTk; j += V::kWidth) V::Store(v_scale + j, V::LoadF16(kt.v_scale + j));
  }
  for (int64_t r = 0; r < n_rows; ++r) {
    float* s = w.s + r * kTk;
    const int64_t valid = std::min(kt.nk, first_pos + r / group - kt.j0 + 1);
    p_step[r] = 0.f;
    if (valid <= 0) {
      std::fill(s, s + kTk, 0.f);
      continue;
    }
    const float mx = std::max(w.m[r], RowMax<V>(s, valid));
    // 0 on the row's first keys (m = -inf); 1, without an exp, when the max
    // stays (most tiles of a long row).
    const float corr = mx == w.m[r] ? 1.0f : std::exp(w.m[r] - mx);
    w.l[r] = w.l[r] * corr + ExpRow<V>(s, valid, mx);
    w.m[r] = mx;
    std::fill(s + valid, s + kTk, 0.f);
    if (corr != 1.0f)
      for (int64_t d = 0; d < hp; ++d) w.o[r * hp + d] *= corr;
    if constexpr (T == KvType::kInt8) QuantizeWeights<V>(s, valid, v_scale, p_step + r);
  }
}

// Work item `item`: rows of query tile qt of kv head g over key split sp.
template <class V, KvType T>
void RunItem(const Job& job, int64_t item, Tiles& w, float* partials, float* out) {
  const AttentionTiling& t = job.tiling;
  const int64_t group = t.group(), hd = t.head_dim, hp = t.head_dim_pad();
  const int64_t g = item / (job.n_qtiles * job.splits);
  const int64_t qt = item / job.splits % job.n_qtiles, sp = item % job.splits;
  const int64_t t0 = qt * t.query_tile(), tn = std::min(t.query_tile(), job.n_tokens - t0);
  const int64_t n_rows = tn * group, first_pos = job.pos0 + t0, end = first_pos + tn;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  for (int64_t r = 0; r < n_rows; ++r) {
    const float* q = job.q + (t0 + r / group) * job.q_stride + (g * group + r % group) * hd;
    LoadQueryRow<V, T>(q, scale, hd, hp, r, w);
    std::fill(w.o + r * hp, w.o + (r + 1) * hp, 0.f);
    w.m[r] = -INFINITY;
    w.l[r] = 0.f;
  }
  const int64_t n_kt = (end - 1) / kTk + 1;
  const int64_t kt_begin = n_kt * sp / job.splits, kt_end = n_kt * (sp + 1) / job.splits;
  const int64_t stride = job.cache->layout->block_tokens;
  for (int64_t kt = kt_begin; kt < kt_end; ++kt) {
    KeyTile tile = TileAt(job, g, kt, end);
    KvPrefetch next = PrefetchFor(job, g, kt, kt_end);
    tile.prefetch = &next;
    alignas(64) float p_step[kAttnRows];  // int8: each row's weight step
    if constexpr (T == KvType::kInt8 && kInt8Dot<V>) {
      alignas(64) uint8_t packed[kTk * internal::kMaxVnniHeadDim];
      next.step = ((next.k_end - next.k) / V::Steps(n_rows, hd) + 64) / 64 * 64;  // whole lines
      V::PackK(static_cast<const int8_t*>(tile.k), stride, hd, packed, &next);
      QkI8Rows<V, V::kRows>(n_rows, w.q8, hp, hd, packed, tile.k_scale, w.s, &next);
      SoftmaxStep<V, T>(job, first_pos, n_rows, tile, w, p_step);
      V::PackV(static_cast<const int8_t*>(tile.v), hd, packed);
      V::PvI8(n_rows, w.s, p_step, packed, hd, w.o, hp, &next);
    } else {
      QkRows<V, T, V::kRows>(n_rows, w.q, hp, hd, tile, stride, w.s);
      SoftmaxStep<V, T>(job, first_pos, n_rows, tile, w, p_step);
      PvRows<V, T, V::kPvRows>(n_rows, w.s, tile, hd, w.o, hp);
    }
  }
  const int64_t width = job.shape.n_heads * hd;
  for (int64_t r = 0; r < n_rows; ++r) {
    const int64_t tok = t0 + r / group, h = g * group + r % group;
    if (job.splits == 1) {
      float* o = out + tok * width + h * hd;
      const float inv = 1.0f / w.l[r];
      for (int64_t d = 0; d < hd; ++d) o[d] = w.o[r * hp + d] * inv;
    } else {
      float* p = partials + ((sp * job.n_tokens + tok) * job.shape.n_heads + h) * (hp + 2);
      std::copy(w.o + r * hp, w.o + r * hp + hd, p);
      p[hp] = w.m[r];
      p[hp + 1] = w.l[r];
    }
  }
}

// out[tok, h] from the splits' partials of (tok, h).
inline void MergeSplits(const Job& job, int64_t tok, int64_t h, const float* partials, float* out) {
  const int64_t hd = job.tiling.head_dim, hp = job.tiling.head_dim_pad();
  auto part = [&](int64_t sp) {
    return partials + ((sp * job.n_tokens + tok) * job.shape.n_heads + h) * (hp + 2);
  };
  float mx = -INFINITY;
  for (int64_t sp = 0; sp < job.splits; ++sp) mx = std::max(mx, part(sp)[hp]);
  float sum = 0.f;
  float* o = out + tok * job.shape.n_heads * hd + h * hd;
  std::fill(o, o + hd, 0.f);
  for (int64_t sp = 0; sp < job.splits; ++sp) {
    const float* p = part(sp);
    const float c = std::exp(p[hp] - mx);  // 0 for a split with no keys of this row
    sum += p[hp + 1] * c;
    for (int64_t d = 0; d < hd; ++d) o[d] += p[d] * c;
  }
  const float inv = 1.0f / sum;
  for (int64_t d = 0; d < hd; ++d) o[d] *= inv;
}

template <class V, KvType T>
void RunJob(const Job& job, float* scratch, float* out, int n_threads, bool parallel) {
  const AttentionTiling& t = job.tiling;
  float* partials = scratch + n_threads * t.ThreadFloats();
  const int64_t items = job.shape.n_kv_heads * job.n_qtiles * job.splits;
#pragma omp parallel num_threads(n_threads) if (parallel)
  {
    Tiles w(t, scratch + omp_get_thread_num() * t.ThreadFloats());
#pragma omp for schedule(dynamic, 1)
    for (int64_t item = 0; item < items; ++item) RunItem<V, T>(job, item, w, partials, out);
    if (job.splits > 1) {
#pragma omp for schedule(static)
      for (int64_t i = 0; i < job.n_tokens * job.shape.n_heads; ++i)
        MergeSplits(job, i / job.shape.n_heads, i % job.shape.n_heads, partials, out);
    }
  }
}

// Key splits: enough items for 2 per thread when the query tiles alone are
// too few (decode), within the partial buffer and the key tiles there are.
inline int64_t ChooseSplits(const Job& job, int n_threads) {
  const int64_t items = job.shape.n_kv_heads * job.n_qtiles;
  if (n_threads <= 1 || items >= 2 * n_threads) return 1;
  const int64_t key_tiles = (job.pos0 + job.n_tokens + kTk - 1) / kTk;
  const int64_t want = (2 * n_threads + items - 1) / items;
  return std::max<int64_t>(1, std::min({want, kAttnMaxSplits / job.n_tokens, key_tiles}));
}

template <class V>
void TiledKvAttention(const float* q, int64_t q_stride, int64_t n_tokens,
                      const AttentionShape& shape, int64_t pos0, const KvCacheView& cache,
                      float* scratch, float* out, int n_threads) {
  Job job{q,      q_stride, n_tokens,
          pos0,   shape,    {shape.n_heads, shape.n_kv_heads, shape.head_dim},
          &cache, 0,        1};
  job.n_qtiles = (n_tokens + job.tiling.query_tile() - 1) / job.tiling.query_tile();
  const int64_t macs = shape.n_heads * n_tokens * (pos0 + n_tokens) * shape.head_dim;
  const bool parallel = n_threads > 1 && macs >= kMinParallelMacs;
  if (!parallel) n_threads = 1;
  job.splits = ChooseSplits(job, n_threads);
  switch (cache.layout->type) {
    case KvType::kF32:
      return RunJob<V, KvType::kF32>(job, scratch, out, n_threads, parallel);
    case KvType::kF16:
      return RunJob<V, KvType::kF16>(job, scratch, out, n_threads, parallel);
    case KvType::kBF16:
      return RunJob<V, KvType::kBF16>(job, scratch, out, n_threads, parallel);
    case KvType::kInt8:
      return RunJob<V, KvType::kInt8>(job, scratch, out, n_threads, parallel);
  }
}

}  // namespace
}  // namespace glmq::cpu
