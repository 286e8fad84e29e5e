// The body of the per-group scale search (quant/search.h), shared by the
// scalar, AVX2 and AVX-512 translation units. `K` supplies the element
// passes over one group and the f16 conversions:
//   K::ToF16(float) -> uint16_t (round to nearest even), K::ToF32(uint16_t)
//   K::Range(x, w, n, has_min) -> GroupRange
//   K::Eval<kMin, kW>(x, w, n, c) -> EvalSums    (c: CandidateF)
//   K::Final(x, imp, n, c, q) -> FinalSums         (writes q[0..n))
// The SIMD files are compiled with -ffp-contract=off so the scalar f32/f64
// arithmetic here rounds exactly as in the scalar file.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "quant/reference.h"
#include "quant/search.h"

namespace glmq::search {

// Group statistics, scanning the values in order: min and max (std::min /
// std::max from x[0]), max |x| and the first value with that |x| (0 if all
// zero), and for q4a the weighted sums sx = sum w x, sw = sum w (f32, in
// order).
struct GroupRange {
  float mn = 0, mx = 0, amax = 0, signed_max = 0, sx = 0, sw = 0;
};
// Weighted sums of a candidate (f32, fma, in order of the values):
// err = sum w d^2, sxq = sum w x q, sqq = sum w q^2, sq = sum w q (q4a).
struct EvalSums {
  float err = 0, sxq = 0, sqq = 0, sq = 0;
};
// The chosen candidate's error sums for RowStats.
struct FinalSums {
  float sse = 0, ssq = 0, wsse = 0, max_abs = 0;
};
// A candidate as the element passes use it: step s, min m (0 without),
// is = 1/s (0 if s == 0), code range [lo, hi].
struct CandidateF {
  float s = 0, m = 0, is = 0, lo = 0, hi = 0;
};

// The scalar element passes (search_scalar.cc): the spec, and what the SIMD
// passes run on groups whose length is not a multiple of 16.
struct ScalarPasses {
  static GroupRange Range(const float* x, const float* w, int64_t n, bool has_min);
  static EvalSums Eval(const float* x, const float* w, int64_t n, const CandidateF& c,
                       bool has_min);
  static FinalSums Final(const float* x, const float* imp, int64_t n, const CandidateF& c,
                         bool has_min, int8_t* q);
};

// Range and Eval of every kernel set K (the scalar one and the SIMD ones run
// single groups through the scalar spec); K adds ToF16/ToF32/FindKey/Final.
struct ScalarRangeEval {
  static GroupRange Range(const float* x, const float* w, int64_t n, bool has_min) {
    return ScalarPasses::Range(x, w, n, has_min);
  }
  template <bool kMin, bool kW>
  static EvalSums Eval(const float* x, const float* w, int64_t n, const CandidateF& c) {
    return ScalarPasses::Eval(x, kW ? w : nullptr, n, c, kMin);
  }
};

namespace impl {

constexpr float kF16Max = 65504.f;
constexpr float kShrinkRange = 0.25f;  // as quant/quantize.cc: shrink to 75 % at most

struct Candidate {
  uint16_t scale16 = 0, min16 = 0;
  bool operator==(const Candidate& o) const { return scale16 == o.scale16 && min16 == o.min16; }
};

template <class K>
uint16_t MagnitudeUp(float v) {
  uint16_t h = K::ToF16(v);
  if (std::fabs(K::ToF32(h)) < std::fabs(v) && (h & 0x7fff) < 0x7bff) ++h;
  return h;
}

template <class K>
uint16_t Down(float v) {
  uint16_t h = K::ToF16(v);
  if (K::ToF32(h) > v) {
    if (h == 0x0000) return 0x8001;
    if (h & 0x8000) {
      if ((h & 0x7fff) < 0x7bff) ++h;
    } else {
      --h;
    }
  }
  return h;
}

inline bool FitsF16(double v) { return std::isfinite(v) && std::fabs(v) <= kF16Max; }

// Least-squares scale (and min) for the codes behind `e`; false if degenerate.
template <class K>
bool Refit(const EncodingTraits& t, const EvalSums& e, const GroupRange& r, Candidate* out) {
  const double sxq = e.sxq, sqq = e.sqq, sq = e.sq, sx = r.sx, sw = r.sw;
  if (!t.has_min) {
    if (sqq <= 0) return false;
    const double s = sxq / sqq;
    if (!FitsF16(s)) return false;
    out->scale16 = K::ToF16(static_cast<float>(s));
    return true;
  }
  const double det = sqq * sw - sq * sq;
  if (!(det > 0)) return false;
  const double s = (sxq * sw - sq * sx) / det;
  const double m = (sqq * sx - sq * sxq) / det;
  if (!FitsF16(s) || !FitsF16(m) || s <= 0) return false;
  out->scale16 = K::ToF16(static_cast<float>(s));
  out->min16 = K::ToF16(static_cast<float>(m));
  return true;
}

// Candidate k of the grid (k = 0 is the plain RTN choice of QuantizeRowRef).
template <class K>
Candidate MakeCandidate(const EncodingTraits& t, const GroupRange& r, int k, int grid) {
  Candidate c;
  if (k == 0) {
    if (t.has_min) {
      c.min16 = Down<K>(r.mn);
      c.scale16 = MagnitudeUp<K>((r.mx - K::ToF32(c.min16)) / t.q_max);
    } else {
      c.scale16 = MagnitudeUp<K>(r.amax / t.q_max);
    }
    return c;
  }
  // q4: odd k = full negative range at step (k-1)/2, even k = symmetric at k/2.
  const bool full_range = t.q_min == -t.q_max - 1;
  const int step = full_range ? ((k % 2) == 1 ? (k - 1) / 2 : k / 2) : k;
  const float f = 1.f - kShrinkRange * static_cast<float>(step) / static_cast<float>(grid);
  if (t.has_min) {
    const float half = 0.5f * (1.f - f) * (r.mx - r.mn);
    const float lo = r.mn + half, hi = r.mx - half;
    c.min16 = K::ToF16(lo);
    c.scale16 = K::ToF16((hi - lo) / t.q_max);
  } else if (full_range && (k % 2) == 1) {
    c.scale16 = K::ToF16(f * r.signed_max / t.q_min);
  } else {
    c.scale16 = K::ToF16(f * r.amax / t.q_max);
  }
  return c;
}

template <class K>
CandidateF ToFloat(const EncodingTraits& t, Candidate c) {
  CandidateF f;
  f.s = K::ToF32(c.scale16);
  f.m = t.has_min ? K::ToF32(c.min16) : 0.f;
  f.is = f.s != 0.f ? 1.f / f.s : 0.f;
  f.lo = static_cast<float>(t.q_min);
  f.hi = static_cast<float>(t.q_max);
  return f;
}

inline void AddFinal(const FinalSums& fs, RowStats* stats) {
  stats->sum_sq_err += fs.sse;
  stats->sum_sq += fs.ssq;
  stats->weighted_sq_err += fs.wsse;
  stats->max_abs_err = std::max<double>(stats->max_abs_err, fs.max_abs);
}

template <class K>
EvalSums Evaluate(const EncodingTraits& t, const float* x, const float* w, int64_t n,
                  Candidate c) {
  const CandidateF f = ToFloat<K>(t, c);
  if (t.has_min) return w ? K::template Eval<true, true>(x, w, n, f) : K::template Eval<true, false>(x, w, n, f);
  return w ? K::template Eval<false, true>(x, w, n, f) : K::template Eval<false, false>(x, w, n, f);
}

// Searches one group of n valid values and writes it (header + packed
// values; padding is q = 0). The outcome is defined by the sequence
//   base 0, refit 0, base 1, refit 1, ...  (refit k: least squares on the
//   codes of base k; skipped when degenerate or grid == 0)
// where a candidate replaces the best one only if its error is strictly
// lower. Errors are pure functions of the candidate, so they are computed
// in batches (independent work for the CPU to overlap) and each distinct
// (scale, min) only once; the sequence is then replayed in order.
template <class K>
void SearchGroup(const GroupGeometry& geo, const float* x, const float* w, const float* imp,
                 int64_t n, int grid, int8_t* q, uint8_t* out, RowStats* stats) {
  constexpr int kMax = 64;  // candidates per batch (a grid of 16 for q4)
  const EncodingTraits& t = *geo.traits;
  const GroupRange r = K::Range(x, w, n, t.has_min);
  Candidate best = MakeCandidate<K>(t, r, 0, grid);
  const int n_candidates = grid <= 0 ? 1 : (t.q_min == -t.q_max - 1 ? 2 * grid : grid);
  if (r.amax > 0.f) {
    float best_err = 0;
    // Candidates in sequence order (2k base, 2k+1 refit); err of each.
    Candidate cand[2 * kMax];
    float err[2 * kMax];
    bool has[2 * kMax];
    uint32_t keys[2 * kMax];  // distinct candidates scored so far
    float key_err[2 * kMax];
    int n_keys = 0;
    auto score = [&](Candidate c, EvalSums* sums) -> float {
      const uint32_t key = (uint32_t{c.scale16} << 16) | c.min16;
      if (sums == nullptr) {
        const int i = K::FindKey(keys, n_keys, key);
        if (i >= 0) return key_err[i];
      }
      const EvalSums e = Evaluate<K>(t, x, w, n, c);
      if (sums) *sums = e;
      keys[n_keys] = key;
      key_err[n_keys++] = e.err;
      return e.err;
    };
    for (int k0 = 0; k0 < n_candidates; k0 += kMax) {
      const int k1 = std::min(n_candidates, k0 + kMax);
      EvalSums sums[kMax];
      n_keys = 0;  // the cache only spans one batch (a grid over 64 is rare)
      for (int k = k0; k < k1; ++k) {
        cand[2 * (k - k0)] = k == 0 ? best : MakeCandidate<K>(t, r, k, grid);
        err[2 * (k - k0)] = score(cand[2 * (k - k0)], &sums[k - k0]);
      }
      for (int k = k0; k < k1; ++k) {
        const int i = 2 * (k - k0) + 1;
        cand[i] = cand[i - 1];
        has[i] = grid > 0 && Refit<K>(t, sums[k - k0], r, &cand[i]);
        if (has[i]) err[i] = score(cand[i], nullptr);
      }
      for (int i = 0; i < 2 * (k1 - k0); ++i) {
        if (i % 2 == 1 && !has[i]) continue;
        if ((k0 == 0 && i == 0) || err[i] < best_err) {
          best_err = err[i];
          best = cand[i];
        }
      }
    }
  }
  const FinalSums fs = K::Final(x, imp, n, ToFloat<K>(t, best), t.has_min, q);
  std::fill(q + n, q + geo.g, 0);
  PackGroup(geo, best.scale16, best.min16, q, out);
  AddFinal(fs, stats);
}

template <class K>
void QuantizeRow(const GroupGeometry& geo, const float* x, const float* w, const float* imp,
                 int64_t cols, int grid, uint8_t* out, RowStats* stats) {
  thread_local std::vector<int8_t> q;
  if (static_cast<int64_t>(q.size()) < geo.g) q.resize(geo.g);
  for (int64_t gi = 0; gi < geo.n_groups; ++gi) {
    const int64_t begin = gi * geo.g;
    const int64_t n = std::min<int64_t>(geo.g, cols - begin);
    SearchGroup<K>(geo, x + begin, w ? w + begin : nullptr, imp ? imp + begin : nullptr, n, grid,
                   q.data(), out + gi * geo.group_bytes, stats);
  }
}

}  // namespace impl
}  // namespace glmq::search
