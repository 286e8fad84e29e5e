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
#include <utility>
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
// single groups through the scalar spec); K adds ToF16/ToF32/Final.
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

// Bases per group: the reference choice (k = 0) and the shrunken ones; q4
// (full negative range) tries both signs at each shrink step.
inline int NumBases(const EncodingTraits& t, int grid) {
  return grid <= 0 ? 1 : (t.q_min == -t.q_max - 1 ? 2 * grid : grid);
}

// Least-squares refits per group: only the NumRefits lowest-error bases are
// refitted, 2 for q4 / q8 and 4 for q4a, whose refit also moves the min.
// Refitting every base cost 7 of the 16 vector ops per value of a q4 grid-8
// search; the trained fixtures' NMSE moved by +0.013 % (q4 g128), +0.07 %
// (q4 g32) with 2 refits, and by +0.02-0.03 % (q4a) with 4 (2: +0.13-0.64 %),
// docs/benchmarks.md.
constexpr int kMaxRefits = 4;
inline int NumRefits(const EncodingTraits& t) { return t.has_min ? 4 : 2; }

// The lowest-error bases in order (err, then lower k): Add(base k) for k =
// 0, 1, ... in order inserts it before the first slot that is empty or has
// a larger err, and every later slot moves down one (the last drops out).
// The SIMD batch runs the same compares and swaps per lane.
struct TopBases {
  struct Slot {
    int k = -1;
    EvalSums e;
  } slot[kMaxRefits];
  void Add(int n_slots, Slot v) {
    bool inserted = false;
    for (int j = 0; j < n_slots; ++j)
      if (inserted || slot[j].k < 0 || v.e.err < slot[j].e.err) {
        std::swap(slot[j], v);
        inserted = true;
      }
  }
};

// Searches one group of n valid values and writes it (header + packed
// values; padding is q = 0). The outcome is defined by the sequence
//   base 0, [refit 0], base 1, [refit 1], ...
// where refit k (least squares on the codes of base k) is in the sequence
// only if grid > 0, base k is one of the NumRefits lowest-error bases
// (TopBases) and the refit is not degenerate; a candidate replaces the best
// one only if its error is strictly lower. All bases are scored first, then
// the refits, then the sequence is replayed.
template <class K>
void SearchGroup(const GroupGeometry& geo, const float* x, const float* w, const float* imp,
                 int64_t n, int grid, int8_t* q, uint8_t* out, RowStats* stats) {
  const EncodingTraits& t = *geo.traits;
  const GroupRange r = K::Range(x, w, n, t.has_min);
  Candidate best = MakeCandidate<K>(t, r, 0, grid);
  if (r.amax > 0.f) {
    const int n_bases = NumBases(t, grid), n_top = NumRefits(t);
    thread_local std::vector<Candidate> cand;
    thread_local std::vector<float> err;
    cand.resize(n_bases);
    err.resize(n_bases);
    TopBases top;
    for (int k = 0; k < n_bases; ++k) {
      cand[k] = k == 0 ? best : MakeCandidate<K>(t, r, k, grid);
      const EvalSums e = Evaluate<K>(t, x, w, n, cand[k]);
      err[k] = e.err;
      top.Add(n_top, {k, e});
    }
    Candidate rc[kMaxRefits];
    float rerr[kMaxRefits] = {};
    bool has[kMaxRefits] = {};
    for (int j = 0; j < n_top; ++j) {
      const int k = top.slot[j].k;
      if (grid <= 0 || k < 0) continue;
      rc[j] = cand[k];
      has[j] = Refit<K>(t, top.slot[j].e, r, &rc[j]);
      // A refit that lands on its base has the base's error (a pure function).
      if (has[j]) rerr[j] = rc[j] == cand[k] ? err[k] : Evaluate<K>(t, x, w, n, rc[j]).err;
    }
    float best_err = err[0];
    for (int k = 0; k < n_bases; ++k) {
      if (k > 0 && err[k] < best_err) {
        best_err = err[k];
        best = cand[k];
      }
      for (int j = 0; j < n_top; ++j)
        if (has[j] && top.slot[j].k == k && rerr[j] < best_err) {
          best_err = rerr[j];
          best = rc[j];
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
