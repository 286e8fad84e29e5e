// Lane-parallel scale search: N full groups of a row are searched at once,
// group l in lane l, so every per-group sum runs in the order of its values
// exactly as the scalar spec (ScalarPasses, search_impl.h) and no
// horizontal reductions are needed. Written with GCC vector extensions over
// `A` (search_avx2.cc: N = 8, search_avx512.cc: N = 16), which supplies
//   A::N, A::Fma(a, b, c) = a*b+c fused, A::ToF16(F) (round to nearest
//   even, int lanes 0..0xffff), A::ToF32(I), A::Gather(p, stride, nb, dst):
//   dst[l] = p[l * stride] for l < nb, else 0.
// The operations and their order are the scalar spec's: min/max as
// std::min/std::max, (a*b)/c as written, the refit in f64, -ffp-contract=off.
#pragma once

#include <cstring>
#include <vector>

#include "quant/search_simd_impl.h"

namespace glmq::search::batch {

template <int N>
struct Types {
  typedef float F __attribute__((vector_size(4 * N)));
  typedef int32_t I __attribute__((vector_size(4 * N)));
  typedef double D __attribute__((vector_size(8 * N)));
  // Half-width f64 work (Search::Refit): N/2 lanes, one register of doubles.
  typedef float HF __attribute__((vector_size(2 * N)));
  typedef double HD __attribute__((vector_size(4 * N)));
  typedef int64_t HL __attribute__((vector_size(4 * N)));
  typedef int32_t HI __attribute__((vector_size(2 * N)));
};

template <class A>
struct Search {
  static constexpr int N = A::N;
  using F = typename Types<N>::F;
  using I = typename Types<N>::I;

  static F Load(const float* p) {
    F v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
  static F Splat(float f) { return F{} + f; }
  static F Abs(F v) {
    I b;
    std::memcpy(&b, &v, sizeof b);
    b &= 0x7fffffff;
    std::memcpy(&v, &b, sizeof v);
    return v;
  }
  static I Select(I m, I a, I b) { return m ? a : b; }
  static F Select(I m, F a, F b) { return m ? a : b; }

  static I MagnitudeUp(F v) {  // impl::MagnitudeUp per lane
    const I h = A::ToF16(v);
    const I up = (Abs(A::ToF32(h)) < Abs(v)) & ((h & 0x7fff) < 0x7bff);
    return Select(up, h + 1, h);
  }
  static I Down(F v) {  // impl::Down per lane
    const I h = A::ToF16(v);
    const I neg = Select((h & 0x7fff) < 0x7bff, h + 1, h);
    const I dn = Select(h == 0, I{} + 0x8001, Select((h & 0x8000) != 0, neg, h - 1));
    return Select(A::ToF32(h) > v, dn, h);
  }

  struct Range {
    F mn, mx, amax, smax, sx, sw;
  };
  struct Cand {
    I scale16, min16;
  };
  struct Sums {
    F err, sxq, sqq, sq;
  };

  // xT[i * N + l]: value i of group l; wT likewise (or null).
  static Range GetRange(const float* xT, const float* wT, int64_t g, bool has_min) {
    Range r{Load(xT), Load(xT), F{}, F{}, F{}, F{}};
    for (int64_t i = 0; i < g; ++i) {
      const F x = Load(xT + i * N);
      r.mn = x < r.mn ? x : r.mn;  // std::min(mn, x)
      r.mx = r.mx < x ? x : r.mx;  // std::max(mx, x)
      const F ax = Abs(x);
      const I upd = ax > r.amax;
      r.amax = Select(upd, ax, r.amax);
      r.smax = Select(upd, x, r.smax);
      if (has_min) {
        const F w = wT ? Load(wT + i * N) : Splat(1.f);
        r.sx += wT ? w * x : x;
        r.sw += w;
      }
    }
    return r;
  }

  static Cand Make(const EncodingTraits& t, const Range& r, int k, int grid) {
    Cand c{I{}, I{}};
    const float qmax = static_cast<float>(t.q_max), qmin = static_cast<float>(t.q_min);
    if (k == 0) {
      if (t.has_min) {
        c.min16 = Down(r.mn);
        c.scale16 = MagnitudeUp((r.mx - A::ToF32(c.min16)) / qmax);
      } else {
        c.scale16 = MagnitudeUp(r.amax / qmax);
      }
      return c;
    }
    const bool full_range = t.q_min == -t.q_max - 1;
    const int step = full_range ? ((k % 2) == 1 ? (k - 1) / 2 : k / 2) : k;
    const float f = 1.f - impl::kShrinkRange * static_cast<float>(step) / static_cast<float>(grid);
    if (t.has_min) {
      const F half = 0.5f * (1.f - f) * (r.mx - r.mn);
      const F lo = r.mn + half, hi = r.mx - half;
      c.min16 = A::ToF16(lo);
      c.scale16 = A::ToF16((hi - lo) / qmax);
    } else if (full_range && (k % 2) == 1) {
      c.scale16 = A::ToF16(f * r.smax / qmin);
    } else {
      c.scale16 = A::ToF16(f * r.amax / qmax);
    }
    return c;
  }

  // J candidates per pass over the values (independent chains, J * 3-4
  // accumulators held in registers: the loops over j are fully unrolled so
  // the arrays below are scalarized). Without kSums only err is computed
  // (refits need no further refit). Candidates j >= n_c repeat c[0] and are
  // not stored.
  template <bool kMin, bool kW, bool kSums, int J>
  static void EvalJ(const EncodingTraits& t, const float* xT, const float* wT, int64_t g,
                    const Cand* c, int n_c, Sums* out) {
    F ns[J], m[J], is[J];
#pragma GCC unroll 8
    for (int j = 0; j < J; ++j) {
      const Cand& cj = c[j < n_c ? j : 0];
      const F s = A::ToF32(cj.scale16);
      ns[j] = -s;
      m[j] = kMin ? A::ToF32(cj.min16) : F{};
      is[j] = Select(s != 0.f, 1.f / s, F{});
    }
    const F lo = Splat(static_cast<float>(t.q_min)), hi = Splat(static_cast<float>(t.q_max));
    const F magic = Splat(12582912.f);
    F err[J], sxq[J], sqq[J], sq[J];
#pragma GCC unroll 8
    for (int j = 0; j < J; ++j) err[j] = sxq[j] = sqq[j] = sq[j] = F{};
    for (int64_t i = 0; i < g; ++i) {
      const F x = Load(xT + i * N);
      const F w = kW ? Load(wT + i * N) : F{};
      const F wx = kW ? w * x : x;
#pragma GCC unroll 8
      for (int j = 0; j < J; ++j) {
        const F xm = kMin ? x - m[j] : x;
        F v = xm * is[j];
        v = v < lo ? lo : v;  // RoundClampF: clamp, then round half to even
        v = v > hi ? hi : v;
        const F q = (v + magic) - magic;
        const F d = A::Fma(ns[j], q, xm);
        const F wq = kW ? w * q : q;
        err[j] = A::Fma(kW ? w * d : d, d, err[j]);
        if (!kSums) continue;
        sxq[j] = A::Fma(wx, q, sxq[j]);
        sqq[j] = A::Fma(wq, q, sqq[j]);
        if (kMin) sq[j] += wq;
      }
    }
#pragma GCC unroll 8
    for (int j = 0; j < J; ++j)
      if (j < n_c) out[j] = Sums{err[j], sxq[j], sqq[j], sq[j]};
  }

  // Candidates per pass: as many as the registers hold (AVX-512: 32 zmm,
  // AVX2: 16 ymm).
  template <bool kMin, bool kSums>
  static constexpr int PassCands() {
    if (N == 16) return kSums ? (kMin ? 3 : 4) : 6;
    return kSums ? 2 : 3;
  }

  // n_c <= J candidates in one pass of n_c chains (a last, partial pass of
  // J chains would compute J - n_c unused ones).
  template <bool kMin, bool kW, bool kSums, int J>
  static void EvalUpTo(const EncodingTraits& t, const float* xT, const float* wT, int64_t g,
                       const Cand* c, int n_c, Sums* out) {
    if constexpr (J > 1) {
      if (n_c < J) return EvalUpTo<kMin, kW, kSums, J - 1>(t, xT, wT, g, c, n_c, out);
    }
    EvalJ<kMin, kW, kSums, J>(t, xT, wT, g, c, n_c, out);
  }

  template <bool kMin, bool kW, bool kSums>
  static void EvalAll(const EncodingTraits& t, const float* xT, const float* wT, int64_t g,
                      const Cand* c, int n_c, Sums* out) {
    constexpr int J = PassCands<kMin, kSums>();
    for (int j = 0; j < n_c; j += J)
      EvalUpTo<kMin, kW, kSums, J>(t, xT, wT, g, c + j, std::min(J, n_c - j), out + j);
  }

  template <bool kSums>
  static void Eval(const EncodingTraits& t, const float* xT, const float* wT, int64_t g,
                   const Cand* c, int n_c, Sums* out) {
    if (t.has_min) {
      wT ? EvalAll<true, true, kSums>(t, xT, wT, g, c, n_c, out)
         : EvalAll<true, false, kSums>(t, xT, wT, g, c, n_c, out);
    } else {
      wT ? EvalAll<false, true, kSums>(t, xT, wT, g, c, n_c, out)
         : EvalAll<false, false, kSums>(t, xT, wT, g, c, n_c, out);
    }
  }

  // impl::Refit per lane (f64); returns the lanes where it is valid. Done
  // in two halves of N/2 doubles, one register each: GCC lowers f64 vectors
  // wider than a register element by element (scalar compares and blends
  // were ~15 % of an int8 run).
  static I Refit(const EncodingTraits& t, const Sums& e, const Range& r, Cand* out) {
    constexpr int H = N / 2;
    using HF = typename Types<N>::HF;
    using HD = typename Types<N>::HD;
    using HL = typename Types<N>::HL;
    using HI = typename Types<N>::HI;
    auto half = [](const F& v, int h) {
      HF x;
      std::memcpy(&x, reinterpret_cast<const float*>(&v) + h * H, sizeof x);
      return __builtin_convertvector(x, HD);
    };
    const HD lim = HD{} + 65504.0;
    auto fits = [&](HD v) -> HL { return (v < 0 ? -v : v) <= lim; };
    F s_out, m_out;
    I ok_out;
    for (int h = 0; h < 2; ++h) {
      const HD sxq = half(e.sxq, h), sqq = half(e.sqq, h);
      HD s, m = HD{};
      HL ok;
      if (!t.has_min) {
        s = sxq / sqq;
        ok = (sqq > 0) & fits(s);
      } else {
        const HD sq = half(e.sq, h), sx = half(r.sx, h), sw = half(r.sw, h);
        const HD det = sqq * sw - sq * sq;
        s = (sxq * sw - sq * sx) / det;
        m = (sqq * sx - sq * sxq) / det;
        ok = (det > 0) & fits(s) & fits(m) & (s > 0);
      }
      const HF sf = __builtin_convertvector(s, HF), mf = __builtin_convertvector(m, HF);
      const HI oki = __builtin_convertvector(ok, HI);
      std::memcpy(reinterpret_cast<float*>(&s_out) + h * H, &sf, sizeof sf);
      std::memcpy(reinterpret_cast<float*>(&m_out) + h * H, &mf, sizeof mf);
      std::memcpy(reinterpret_cast<int32_t*>(&ok_out) + h * H, &oki, sizeof oki);
    }
    out->scale16 = A::ToF16(s_out);
    if (t.has_min) out->min16 = A::ToF16(m_out);
    return ok_out;
  }

  static Sums Select(I m, const Sums& a, const Sums& b) {  // per lane
    return Sums{Select(m, a.err, b.err), Select(m, a.sxq, b.sxq), Select(m, a.sqq, b.sqq),
                Select(m, a.sq, b.sq)};
  }

  // Searches groups [0, nb) (nb <= N) whose values are xT / wT; writes the
  // chosen scale and min of each into scale16 / min16. impl::SearchGroup
  // per lane: all bases, the refits of the best (impl::TopBases), the replay.
  static void Batch(const EncodingTraits& t, const float* xT, const float* wT, int64_t g,
                    int grid, uint16_t* scale16, uint16_t* min16) {
    constexpr int kMax = 64, kR = impl::kMaxRefits;
    const Range r = GetRange(xT, wT, g, t.has_min);
    const int n_cand = std::min(kMax, impl::NumBases(t, grid)), n_top = impl::NumRefits(t);
    Cand base[kMax];
    Sums sb[kMax];
    for (int k = 0; k < n_cand; ++k) base[k] = Make(t, r, k, grid);
    Eval<true>(t, xT, wT, g, base, n_cand, sb);
    // TopBases::Add per lane: the lowest-error bases in (err, k) order.
    I top_k[kR];
    Sums top_s[kR] = {};
    for (int j = 0; j < kR; ++j) top_k[j] = I{} - 1;
    for (int k = 0; k < n_cand; ++k) {
      I vk = I{} + k, inserted = I{};
      Sums vs = sb[k];
      for (int j = 0; j < n_top; ++j) {
        const I m = inserted | (top_k[j] < 0) | (vs.err < top_s[j].err);
        const I ok = top_k[j];
        const Sums os = top_s[j];
        top_k[j] = Select(m, vk, ok);
        top_s[j] = Select(m, vs, os);
        vk = Select(m, ok, vk);
        vs = Select(m, os, vs);
        inserted |= m;
      }
    }
    // Slots j < min(n_top, n_cand) hold a base in every lane.
    const int n_refit = grid > 0 ? std::min(n_top, n_cand) : 0;
    Cand refit[kR] = {};
    Sums sr[kR];
    I has[kR];
    for (int j = 0; j < n_refit; ++j) has[j] = Refit(t, top_s[j], r, &refit[j]);
    Eval<false>(t, xT, wT, g, refit, n_refit, sr);
    const I active = r.amax > 0.f;
    Cand best = base[0];
    F best_err = sb[0].err;
    auto take = [&](I m, const Cand& c, F err) {
      m &= active & (err < best_err);
      best.scale16 = Select(m, c.scale16, best.scale16);
      best.min16 = Select(m, c.min16, best.min16);
      best_err = Select(m, err, best_err);
    };
    for (int k = 0; k < n_cand; ++k) {
      if (k > 0) take(I{} - 1, base[k], sb[k].err);
      for (int j = 0; j < n_refit; ++j) take(has[j] & (top_k[j] == k), refit[j], sr[j].err);
    }
    for (int l = 0; l < N; ++l) {
      scale16[l] = static_cast<uint16_t>(best.scale16[l]);
      min16[l] = static_cast<uint16_t>(t.has_min ? best.min16[l] : 0);
    }
  }
};

// QuantizeRow with full groups searched N at a time; the ragged last group
// (if any) and grids over 32 use the per-group path, which is the same spec.
template <class A, class K>
void QuantizeRow(const GroupGeometry& geo, const float* x, const float* w, const float* imp,
                 int64_t cols, int grid, uint8_t* out, RowStats* stats) {
  constexpr int N = A::N;
  const EncodingTraits& t = *geo.traits;
  const int64_t g = geo.g, full = grid <= 32 ? cols / g : 0;
  thread_local std::vector<float> xT, wT;
  thread_local std::vector<int8_t> q;
  xT.resize(g * N);
  if (w) wT.resize(g * N);
  if (static_cast<int64_t>(q.size()) < g) q.resize(g);
  for (int64_t g0 = 0; g0 < full; g0 += N) {
    const int nb = static_cast<int>(std::min<int64_t>(N, full - g0));
    // The next batch is the next N * g contiguous values: fetch it while this
    // one is searched (the gathers below would otherwise wait on memory).
    const int64_t next = std::min<int64_t>(N, full - g0 - nb) * g;
    for (int64_t i = 0; i < next; i += 16) {
      __builtin_prefetch(x + (g0 + nb) * g + i);
      if (w) __builtin_prefetch(w + (g0 + nb) * g + i);
    }
    for (int64_t i = 0; i < g; ++i) {
      A::Gather(x + g0 * g + i, g, nb, &xT[i * N]);
      if (w) A::Gather(w + g0 * g + i, g, nb, &wT[i * N]);
    }
    uint16_t scale16[N], min16[N];
    Search<A>::Batch(t, xT.data(), w ? wT.data() : nullptr, g, grid, scale16, min16);
    for (int l = 0; l < nb; ++l) {
      const int64_t begin = (g0 + l) * g;
      const FinalSums fs = K::Final(x + begin, imp ? imp + begin : nullptr, g,
                                    impl::ToFloat<K>(t, {scale16[l], min16[l]}), t.has_min,
                                    q.data());
      PackGroup(geo, scale16[l], min16[l], q.data(), out + (g0 + l) * geo.group_bytes);
      impl::AddFinal(fs, stats);
    }
  }
  for (int64_t gi = full; gi < geo.n_groups; ++gi) {
    const int64_t begin = gi * g;
    const int64_t n = std::min<int64_t>(g, cols - begin);
    impl::SearchGroup<K>(geo, x + begin, w ? w + begin : nullptr, imp ? imp + begin : nullptr, n,
                         grid, q.data(), out + gi * geo.group_bytes, stats);
  }
}

}  // namespace glmq::search::batch
