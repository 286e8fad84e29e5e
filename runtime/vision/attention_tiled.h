// The tiled online-softmax attention (attention.h) as one template over a
// vector-traits struct V (attention_scalar.cc, attention_avx2.cc,
// attention_avx512.cc, each compiled with its own -m flags); everything here
// has internal linkage so the instantiations never mix.
//
// Per head, keys are packed transposed in tiles of kTile = V::kVecs x W keys
// (kt: [n_pad / kTile, head_dim, kTile], so the head_dim x kTile tile a
// micro-kernel sweeps is contiguous and stays in L1) and values row-major
// (v: [n_pad, head_dim_pad]). A job is one head x one block of kQueryBlock
// queries; it walks the keys in blocks of kKeyBlock:
//   S = (q / sqrt(head_dim)) k^T                       [queries, keys]
//   m' = max(m, rowmax S); c = exp(m - m'); P = exp(S - m')
//   l = l c + rowsum P;    O = O c + P v;              m = m'
// and writes O / l. Nothing of size n^2 is ever held.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "runtime/cpu/simd_exp.h"
#include "runtime/vision/attention.h"

namespace glmq::vision {
namespace {

constexpr int64_t kQueryBlock = 60;  // a multiple of every V::kRows
// Keys per online-softmax step: fewer rescalings of O with larger blocks; a
// block's kt and v (2 x 256 x head_dim f32) stay in L2.
constexpr int64_t kKeyBlock = 256;
// Keys per PV pass over the query rows: v rows of 64 x head_dim (28 KiB at
// head_dim 112) stay in L1 while every row group reuses them.
constexpr int64_t kPvKeys = 64;
// Micro-tiles are V::kRows query rows x V::kVecs vectors (accumulators in
// registers: 6 x 4 of the 32 zmm for AVX-512, 4 x 2 of the 16 ymm for AVX2).
template <class V>
constexpr int64_t kTile = V::kVecs* V::kWidth;  // keys per QK micro-tile

inline int64_t RoundUp(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

// S[r, c * W + e] = q[r] . kt[:, c * W + e] for a R x kTile tile; q: rows
// of hd floats, kt: one packed [hd, kTile] tile, s: rows of kKeyBlock floats.
template <class V, int R>
inline void QkTile(const float* q, int64_t hd, const float* kt, float* s) {
  typename V::Vec acc[R][V::kVecs];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < V::kVecs; ++c) acc[r][c] = V::Zero();
  for (int64_t d = 0; d < hd; ++d) {
    typename V::Vec k[V::kVecs];
    for (int c = 0; c < V::kVecs; ++c) k[c] = V::Load(kt + d * kTile<V> + c * V::kWidth);
    for (int r = 0; r < R; ++r) {
      const typename V::Vec qb = V::Set1(q[r * hd + d]);
      for (int c = 0; c < V::kVecs; ++c) acc[r][c] = V::Fma(qb, k[c], acc[r][c]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < V::kVecs; ++c) V::Store(s + r * kKeyBlock + c * V::kWidth, acc[r][c]);
}

// O[r, cols] += sum_j P[r, j] v[j, cols] for R rows and C vectors of
// columns; p: rows of kKeyBlock, v and o: rows of hd_pad floats (from the
// tile's first column).
template <class V, int R, int C>
inline void PvTile(const float* p, int64_t nk, const float* v, int64_t hd_pad, float* o) {
  typename V::Vec acc[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) acc[r][c] = V::Load(o + r * hd_pad + c * V::kWidth);
  for (int64_t j = 0; j < nk; ++j) {
    typename V::Vec vv[C];
    for (int c = 0; c < C; ++c) vv[c] = V::Load(v + j * hd_pad + c * V::kWidth);
    for (int r = 0; r < R; ++r) {
      const typename V::Vec pb = V::Set1(p[r * kKeyBlock + j]);
      for (int c = 0; c < C; ++c) acc[r][c] = V::Fma(pb, vv[c], acc[r][c]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) V::Store(o + r * hd_pad + c * V::kWidth, acc[r][c]);
}

// The PV product of R rows over all hd_pad / W column vectors (kVecs >= 2).
template <class V, int R>
inline void PvRows(const float* p, int64_t nk, const float* v, int64_t hd_pad, float* o) {
  int64_t c = 0;
  for (; c + kTile<V> <= hd_pad; c += kTile<V>) {
    PvTile<V, R, V::kVecs>(p, nk, v + c, hd_pad, o + c);
  }
  // The last < kVecs vectors (head_dim 112 = 4 + 3 AVX-512 vectors) in one tile.
  const int64_t rest = (hd_pad - c) / V::kWidth;
  if constexpr (V::kVecs > 3) {
    if (rest == 3) return PvTile<V, R, 3>(p, nk, v + c, hd_pad, o + c);
  }
  if constexpr (V::kVecs > 2) {
    if (rest == 2) return PvTile<V, R, 2>(p, nk, v + c, hd_pad, o + c);
  }
  if (rest == 1) PvTile<V, R, 1>(p, nk, v + c, hd_pad, o + c);
}

// One thread's working tiles.
struct Tiles {
  std::vector<float> q;     // [kQueryBlock, head_dim] scaled queries
  std::vector<float> o;     // [kQueryBlock, hd_pad] unnormalized outputs
  std::vector<float> s;     // [kQueryBlock, kKeyBlock] scores, then probabilities
  std::vector<float> m, l;  // [kQueryBlock] running max and sum
};

// Scores, softmax update and PV of one key block for queries [0, qn); kt:
// the block's first packed tile, v: its first value row.
template <class V>
void KeyBlock(int64_t qn, int64_t hd, int64_t hd_pad, const float* kt, const float* v, int64_t nk,
              Tiles* w) {
  const int64_t q4 = qn / V::kRows * V::kRows;
  for (int64_t j = 0; j < nk; j += kTile<V>) {  // tiles past nk are zero keys
    const float* tile = kt + j * hd;
    for (int64_t i = 0; i < q4; i += V::kRows) {
      QkTile<V, V::kRows>(&w->q[i * hd], hd, tile, &w->s[i * kKeyBlock + j]);
    }
    for (int64_t i = q4; i < qn; ++i)
      QkTile<V, 1>(&w->q[i * hd], hd, tile, &w->s[i * kKeyBlock + j]);
  }
  for (int64_t i = 0; i < qn; ++i) {
    float* s = &w->s[i * kKeyBlock];
    const float mx = std::max(w->m[i], cpu::RowMax<V>(s, nk));
    const float corr = std::exp(w->m[i] - mx);  // 0 on the first block (m = -inf)
    w->l[i] = w->l[i] * corr + cpu::ExpRow<V>(s, nk, mx);
    w->m[i] = mx;
    if (corr != 1.0f) {
      for (int64_t d = 0; d < hd_pad; ++d) w->o[i * hd_pad + d] *= corr;
    }
  }
  for (int64_t j = 0; j < nk; j += kPvKeys) {
    const int64_t nj = std::min(kPvKeys, nk - j);
    const float* vj = v + j * hd_pad;
    for (int64_t i = 0; i < q4; i += V::kRows) {
      PvRows<V, V::kRows>(&w->s[i * kKeyBlock + j], nj, vj, hd_pad, &w->o[i * hd_pad]);
    }
    for (int64_t i = q4; i < qn; ++i) {
      PvRows<V, 1>(&w->s[i * kKeyBlock + j], nj, vj, hd_pad, &w->o[i * hd_pad]);
    }
  }
}

// Keys transposed in tiles and values of every head, zero-padded to n_pad
// rows and hd_pad value columns (layouts: top of this file).
template <class V>
void PackKv(const float* qkv, const QkvLayout& s, int64_t n_pad, int64_t hd_pad, float* kt,
            float* v, int n_threads) {
  constexpr int64_t T = kTile<V>;
  const int64_t width = s.n_heads * s.head_dim, hd = s.head_dim;
#pragma omp parallel for num_threads(n_threads) \
    schedule(static) if (n_threads > 1 && s.n_rows >= 256)
  for (int64_t t = 0; t < n_pad; ++t) {
    for (int64_t h = 0; h < s.n_heads; ++h) {
      float* vd = v + (h * n_pad + t) * hd_pad;
      std::fill(vd, vd + hd_pad, 0.f);
      float* kd = kt + h * hd * n_pad + (t / T * hd) * T + t % T;  // + d * T
      if (t >= s.n_rows) {
        for (int64_t d = 0; d < hd; ++d) kd[d * T] = 0.f;
        continue;
      }
      const float* k = qkv + t * s.row_stride + width + h * hd;
      for (int64_t d = 0; d < hd; ++d) kd[d * T] = k[d];
      std::copy(k + width, k + width + hd, vd);
    }
  }
}

template <class V>
void TiledAttention(const float* qkv, const QkvLayout& s, float* out, int n_threads,
                    AttentionScratch* scratch) {
  const int64_t hd = s.head_dim, n = s.n_rows, width = s.n_heads * hd;
  const int64_t n_pad = RoundUp(std::max<int64_t>(n, 1), kKeyBlock);
  const int64_t hd_pad = RoundUp(hd, V::kWidth);
  scratch->kt.resize(s.n_heads * hd * n_pad);
  scratch->v.resize(s.n_heads * n_pad * hd_pad);
  PackKv<V>(qkv, s, n_pad, hd_pad, scratch->kt.data(), scratch->v.data(), n_threads);
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const int64_t q_blocks = (n + kQueryBlock - 1) / kQueryBlock, jobs = s.n_heads * q_blocks;
#pragma omp parallel num_threads(n_threads) if (internal::Parallel(s, n_threads))
  {
    Tiles w;
    w.q.resize(kQueryBlock * hd);
    w.o.resize(kQueryBlock * hd_pad);
    w.s.resize(kQueryBlock * kKeyBlock);
#pragma omp for schedule(dynamic, 1)
    for (int64_t job = 0; job < jobs; ++job) {
      const int64_t h = job / q_blocks, i0 = job % q_blocks * kQueryBlock;
      const int64_t qn = std::min(kQueryBlock, n - i0);
      for (int64_t i = 0; i < qn; ++i) {
        const float* q = qkv + (i0 + i) * s.row_stride + h * hd;
        for (int64_t d = 0; d < hd; ++d) w.q[i * hd + d] = q[d] * scale;
      }
      std::fill(w.o.begin(), w.o.end(), 0.f);
      w.m.assign(kQueryBlock, -INFINITY);
      w.l.assign(kQueryBlock, 0.f);
      const float* kt = scratch->kt.data() + h * hd * n_pad;
      const float* v = scratch->v.data() + h * n_pad * hd_pad;
      for (int64_t j0 = 0; j0 < n; j0 += kKeyBlock) {
        KeyBlock<V>(qn, hd, hd_pad, kt + j0 * hd, v + j0 * hd_pad, std::min(kKeyBlock, n - j0), &w);
      }
      for (int64_t i = 0; i < qn; ++i) {
        float* o = out + (i0 + i) * width + h * hd;
        const float inv = 1.0f / w.l[i];
        for (int64_t d = 0; d < hd; ++d) o[d] = w.o[i * hd_pad + d] * inv;
      }
    }
  }
}

}  // namespace
}  // namespace glmq::vision
