// PrefillAttention (attention_prefill.h) as one template over a
// vector-traits struct V (attention_prefill_{scalar,avx2,avx512}.cc, each
// compiled with its own -m flags); internal linkage per file.
//
// A job is one kv head g and a block of bq query tokens: its rows are the
// group = n_heads / n_kv_heads query heads of g for each token (row t * group
// + h), about kJobRows in all. It walks the keys [0, last position] in blocks
// of kKeyBlock, each converted from the cache to f32 once (keys transposed,
// kt [head_dim, kKeyBlock]; values [kKeyBlock, hd_pad]):
//   S = (q / sqrt(head_dim)) k^T, keys past a row's position masked out
//   m' = max(m, rowmax S); c = exp(m - m'); P = exp(S - m')
//   l = l c + rowsum P;    O = O c + P v;      m = m'
// and writes O / l. Per thread: the job's q, O and one S block.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/dtype.h"
#include "runtime/cpu/attention_prefill.h"

namespace glmq::cpu {
namespace {

constexpr int64_t kKeyBlock = 64;  // keys per online-softmax step
constexpr int64_t kJobRows = 64;   // query rows (heads x tokens) per job, about

inline int64_t RoundUpTo(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

// One thread's working tiles.
struct PrefillTiles {
  std::vector<float> q;     // [rows, hd] scaled queries
  std::vector<float> o;     // [rows, hd_pad] unnormalized outputs
  std::vector<float> s;     // [rows, kKeyBlock] scores, then probabilities
  std::vector<float> m, l;  // [rows] running max and sum
  std::vector<float> kt;    // [hd, kKeyBlock] the key block, transposed
  std::vector<float> v;     // [kKeyBlock, hd_pad] the value block
  std::vector<float> row;   // [hd] one converted key
};

// Keys and values [j0, j0 + nk) of kv head g into w->kt and w->v as f32,
// zero past nk and past head_dim. The one place that reads the cache's
// layout (KvCacheView, runtime/backend.h).
inline void LoadKvBlock(const KvCacheView& c, int64_t g, int64_t hd, int64_t hd_pad, int64_t j0,
                        int64_t nk, PrefillTiles* w) {
  const size_t es = DTypeSize(c.type);
  for (int64_t j = 0; j < kKeyBlock; ++j) {
    float* vd = w->v.data() + j * hd_pad;
    if (j >= nk) {
      for (int64_t d = 0; d < hd; ++d) w->kt[d * kKeyBlock + j] = 0.f;
      std::fill(vd, vd + hd_pad, 0.f);
      continue;
    }
    const int64_t off = (g * c.max_context + j0 + j) * hd;
    ConvertToF32(c.type, static_cast<const uint8_t*>(c.k) + off * es, w->row.data(), hd);
    for (int64_t d = 0; d < hd; ++d) w->kt[d * kKeyBlock + j] = w->row[d];
    ConvertToF32(c.type, static_cast<const uint8_t*>(c.v) + off * es, vd, hd);
    std::fill(vd + hd, vd + hd_pad, 0.f);
  }
}

// S[r, c0 + e] = q[r] . kt[:, c0 + e] for RT rows and V::kVecs vectors of
// keys from c0; q: rows of hd floats; s: rows of kKeyBlock floats.
template <class V, int RT>
inline void QkTile(const float* q, int64_t hd, const float* kt, float* s) {
  typename V::Vec acc[RT][V::kVecs];
  for (int r = 0; r < RT; ++r)
    for (int c = 0; c < V::kVecs; ++c) acc[r][c] = V::Zero();
  for (int64_t d = 0; d < hd; ++d) {
    typename V::Vec k[V::kVecs];
    for (int c = 0; c < V::kVecs; ++c) k[c] = V::Load(kt + d * kKeyBlock + c * V::kWidth);
    for (int r = 0; r < RT; ++r) {
      const typename V::Vec qb = V::Set1(q[r * hd + d]);
      for (int c = 0; c < V::kVecs; ++c) acc[r][c] = V::Fma(qb, k[c], acc[r][c]);
    }
  }
  for (int r = 0; r < RT; ++r)
    for (int c = 0; c < V::kVecs; ++c) V::Store(s + r * kKeyBlock + c * V::kWidth, acc[r][c]);
}

// O[r, cols] += sum_{j < nk} P[r, j] v[j, cols] for RT rows and C vectors
// of columns; p: rows of kKeyBlock, v and o: rows of hd_pad floats.
template <class V, int RT, int C>
inline void PvTile(const float* p, int64_t nk, const float* v, int64_t hd_pad, float* o) {
  typename V::Vec acc[RT][C];
  for (int r = 0; r < RT; ++r)
    for (int c = 0; c < C; ++c) acc[r][c] = V::Load(o + r * hd_pad + c * V::kWidth);
  for (int64_t j = 0; j < nk; ++j) {
    typename V::Vec vv[C];
    for (int c = 0; c < C; ++c) vv[c] = V::Load(v + j * hd_pad + c * V::kWidth);
    for (int r = 0; r < RT; ++r) {
      const typename V::Vec pb = V::Set1(p[r * kKeyBlock + j]);
      for (int c = 0; c < C; ++c) acc[r][c] = V::Fma(pb, vv[c], acc[r][c]);
    }
  }
  for (int r = 0; r < RT; ++r)
    for (int c = 0; c < C; ++c) V::Store(o + r * hd_pad + c * V::kWidth, acc[r][c]);
}

// The QK and PV products of RT rows from row r of the job.
template <class V, int RT>
inline void RowTiles(PrefillTiles* w, int64_t r, int64_t hd, int64_t hd_pad, int64_t nk,
                     bool qk) {
  if (qk) {
    for (int64_t c0 = 0; c0 < nk; c0 += V::kVecs * V::kWidth)
      QkTile<V, RT>(&w->q[r * hd], hd, &w->kt[c0], &w->s[r * kKeyBlock + c0]);
    return;
  }
  const float* p = &w->s[r * kKeyBlock];
  float* o = &w->o[r * hd_pad];
  int64_t c = 0;
  for (; c + V::kVecs * V::kWidth <= hd_pad; c += V::kVecs * V::kWidth)
    PvTile<V, RT, V::kVecs>(p, nk, &w->v[c], hd_pad, o + c);
  for (; c < hd_pad; c += V::kWidth) PvTile<V, RT, 1>(p, nk, &w->v[c], hd_pad, o + c);
}

template <class V>
inline void AllRows(PrefillTiles* w, int64_t rows, int64_t hd, int64_t hd_pad, int64_t nk,
                    bool qk) {
  int64_t r = 0;
  for (; r + V::kRows <= rows; r += V::kRows) RowTiles<V, V::kRows>(w, r, hd, hd_pad, nk, qk);
  for (; r < rows; ++r) RowTiles<V, 1>(w, r, hd, hd_pad, nk, qk);
}

// The online-softmax step of row r over its `valid` first scores of the
// block (the rest are masked: P = 0).
template <class V>
inline void SoftmaxRow(PrefillTiles* w, int64_t r, int64_t valid, int64_t hd_pad) {
  float* s = &w->s[r * kKeyBlock];
  if (valid <= 0) {
    std::fill(s, s + kKeyBlock, 0.f);
    return;
  }
  typename V::Vec vm = V::Set1(-INFINITY);
  int64_t j = 0;
  for (; j + V::kWidth <= valid; j += V::kWidth) vm = V::Max(vm, V::Load(s + j));
  float mx = V::ReduceMax(vm);
  for (; j < valid; ++j) mx = std::max(mx, s[j]);
  mx = std::max(mx, w->m[r]);
  const typename V::Vec vmx = V::Set1(mx);
  typename V::Vec sum = V::Zero();
  for (j = 0; j + V::kWidth <= valid; j += V::kWidth) {
    const typename V::Vec e = V::Exp(V::Sub(V::Load(s + j), vmx));
    V::Store(s + j, e);
    sum = V::Add(sum, e);
  }
  float total = V::ReduceAdd(sum);
  for (; j < valid; ++j) {
    s[j] = std::exp(s[j] - mx);
    total += s[j];
  }
  std::fill(s + valid, s + kKeyBlock, 0.f);
  const float corr = std::exp(w->m[r] - mx);  // 0 on the first block (m = -inf)
  w->l[r] = w->l[r] * corr + total;
  w->m[r] = mx;
  if (corr != 1.0f) {
    float* o = &w->o[r * hd_pad];
    for (int64_t d = 0; d < hd_pad; ++d) o[d] *= corr;
  }
}

template <class V>
void TiledPrefillAttention(const float* q, int64_t q_stride, int64_t n, const AttentionShape& s,
                           int64_t pos0, const KvCacheView& cache, float* out, int n_threads) {
  const int64_t group = s.n_heads / s.n_kv_heads, hd = s.head_dim;
  const int64_t hd_pad = RoundUpTo(hd, V::kWidth);
  const int64_t bq = std::max<int64_t>(1, kJobRows / group), q_blocks = (n + bq - 1) / bq;
  const int64_t jobs = s.n_kv_heads * q_blocks, max_rows = bq * group;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const bool parallel =
      n_threads > 1 && n * (pos0 + n) * s.n_heads * hd >= (int64_t{1} << 18);
#pragma omp parallel num_threads(n_threads) if (parallel)
  {
    PrefillTiles w;
    w.q.resize(max_rows * hd);
    w.o.resize(max_rows * hd_pad);
    w.s.resize(max_rows * kKeyBlock);
    w.m.resize(max_rows);
    w.l.resize(max_rows);
    w.kt.resize(hd * kKeyBlock);
    w.v.resize(kKeyBlock * hd_pad);
    w.row.resize(hd);
#pragma omp for schedule(dynamic, 1)
    for (int64_t job = 0; job < jobs; ++job) {
      // The last query blocks (the most keys) first.
      const int64_t g = job % s.n_kv_heads, t0 = (q_blocks - 1 - job / s.n_kv_heads) * bq;
      const int64_t nt = std::min(bq, n - t0), rows = nt * group;
      for (int64_t r = 0; r < rows; ++r) {
        const float* qr = q + (t0 + r / group) * q_stride + (g * group + r % group) * hd;
        for (int64_t d = 0; d < hd; ++d) w.q[r * hd + d] = qr[d] * scale;
      }
      std::fill(w.o.begin(), w.o.begin() + rows * hd_pad, 0.f);
      std::fill(w.m.begin(), w.m.end(), -INFINITY);
      std::fill(w.l.begin(), w.l.end(), 0.f);
      const int64_t n_keys = pos0 + t0 + nt;  // causal: the last row sees keys [0, n_keys)
      for (int64_t j0 = 0; j0 < n_keys; j0 += kKeyBlock) {
        const int64_t nk = std::min(kKeyBlock, n_keys - j0);
        LoadKvBlock(cache, g, hd, hd_pad, j0, nk, &w);
        AllRows<V>(&w, rows, hd, hd_pad, nk, /*qk=*/true);
        for (int64_t r = 0; r < rows; ++r)
          SoftmaxRow<V>(&w, r, std::min(nk, pos0 + t0 + r / group - j0 + 1), hd_pad);
        AllRows<V>(&w, rows, hd, hd_pad, nk, /*qk=*/false);
      }
      for (int64_t r = 0; r < rows; ++r) {
        float* o = out + (t0 + r / group) * s.n_heads * hd + (g * group + r % group) * hd;
        const float inv = 1.0f / w.l[r];
        for (int64_t d = 0; d < hd; ++d) o[d] = w.o[r * hd_pad + d] * inv;
      }
    }
  }
}

}  // namespace
}  // namespace glmq::cpu
