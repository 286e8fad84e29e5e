// SIMD Final pass of the scale search (the chosen candidate's codes and
// error sums), written once over a 16-lane f32 vector type `V` (AVX-512:
// one zmm; AVX2: two ymm), included by search_avx2.cc and search_avx512.cc.
// Lane j of every accumulator holds the values i = j (mod 16), exactly as
// ScalarPasses::Final. Groups whose length is not a multiple of 16 run the
// scalar pass.
//
// V supplies: Load(p), Set1(f), Zero(), Add, Sub, Mul, Fma(a, b, c) = a*b+c,
// Min, Max, Abs, Tree(v) (lanes j+8, j+4, j+2, j+1 added in that order),
// HMin, HMax, EqMask(a, b) (16-bit lane mask), StoreI8(int8_t*, v).
#pragma once

#include <immintrin.h>

#include "quant/search_impl.h"

namespace glmq::search::simd {

template <class V>
struct Passes : ScalarRangeEval {
  using T = typename V::T;

  static uint16_t ToF16(float v) {
    return static_cast<uint16_t>(_cvtss_sh(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  static float ToF32(uint16_t h) { return _cvtsh_ss(h); }

  // Single groups (the ragged last group of a row) take Range and Eval from
  // the scalar spec (ScalarRangeEval); full groups go through the
  // lane-parallel batch (search_batch_impl.h).

  static FinalSums Final(const float* x, const float* imp, int64_t n, const CandidateF& c,
                         bool has_min, int8_t* q) {
    if (n % 16 != 0) return ScalarPasses::Final(x, imp, n, c, has_min, q);
    const T ns = V::Set1(-c.s), m = V::Set1(has_min ? c.m : 0.f), is = V::Set1(c.is),
            lo = V::Set1(c.lo), hi = V::Set1(c.hi), magic = V::Set1(12582912.f);
    T sse = V::Zero(), ssq = V::Zero(), wsse = V::Zero(), mabs = V::Zero();
    for (int64_t i = 0; i < n; i += 16) {
      const T xv = V::Load(x + i);
      const T xm = has_min ? V::Sub(xv, m) : xv;
      const T v = V::Min(V::Max(V::Mul(xm, is), lo), hi);
      const T qv = V::Sub(V::Add(v, magic), magic);
      V::StoreI8(q + i, qv);
      const T d = V::Fma(ns, qv, xm);
      sse = V::Fma(d, d, sse);
      ssq = V::Fma(xv, xv, ssq);
      wsse = V::Fma(imp ? V::Mul(V::Load(imp + i), d) : d, d, wsse);
      mabs = V::Max(mabs, V::Abs(d));
    }
    FinalSums f;
    f.sse = V::Tree(sse);
    f.ssq = V::Tree(ssq);
    f.wsse = V::Tree(wsse);
    f.max_abs = V::HMax(mabs);
    return f;
  }
};

}  // namespace glmq::search::simd
