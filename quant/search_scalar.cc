// Scalar reference of the scale search's element passes: the executable
// spec of "Searched RTN" in specs/encodings.md. A candidate's sums run in
// f32 in the order of the values, with fused multiply-adds (std::fma); the
// SIMD search (search_batch_impl.h) keeps that order by giving each group
// its own lane. The statistics of the chosen candidate (Final) are summed
// in 16 lanes (value i in lane i % 16), then the lanes added as a tree.
#include <algorithm>
#include <cmath>

#include "core/dtype.h"
#include "quant/search_impl.h"

namespace glmq::search {
namespace {

constexpr int kLanes = 16;

// ((l0+l8) + (l4+l12)) ... : lanes j += j+8, then j += j+4, j += j+2, j += j+1.
float Tree(const float* l) {
  float a[8], b[4], c[2];
  for (int j = 0; j < 8; ++j) a[j] = l[j] + l[j + 8];
  for (int j = 0; j < 4; ++j) b[j] = a[j] + a[j + 4];
  for (int j = 0; j < 2; ++j) c[j] = b[j] + b[j + 2];
  return c[0] + c[1];
}

struct ScalarK : ScalarRangeEval {
  static uint16_t ToF16(float v) { return F32ToF16(v); }
  static float ToF32(uint16_t h) { return F16ToF32(h); }
  static FinalSums Final(const float* x, const float* imp, int64_t n, const CandidateF& c,
                         bool has_min, int8_t* q) {
    return ScalarPasses::Final(x, imp, n, c, has_min, q);
  }
};

}  // namespace

GroupRange ScalarPasses::Range(const float* x, const float* w, int64_t n, bool has_min) {
  GroupRange r;
  r.mn = x[0];
  r.mx = x[0];
  for (int64_t i = 0; i < n; ++i) {
    r.mn = std::min(r.mn, x[i]);
    r.mx = std::max(r.mx, x[i]);
    if (std::fabs(x[i]) > r.amax) {
      r.amax = std::fabs(x[i]);
      r.signed_max = x[i];
    }
    if (has_min) {
      r.sx += w ? w[i] * x[i] : x[i];
      r.sw += w ? w[i] : 1.f;
    }
  }
  return r;
}

EvalSums ScalarPasses::Eval(const float* x, const float* w, int64_t n, const CandidateF& c,
                            bool has_min) {
  EvalSums e;
  for (int64_t i = 0; i < n; ++i) {
    const float xm = has_min ? x[i] - c.m : x[i];
    const float q = RoundClampF(xm * c.is, c.lo, c.hi);
    const float d = std::fma(-c.s, q, xm);
    const float wd = w ? w[i] * d : d, wx = w ? w[i] * x[i] : x[i], wq = w ? w[i] * q : q;
    e.err = std::fma(wd, d, e.err);
    e.sxq = std::fma(wx, q, e.sxq);
    e.sqq = std::fma(wq, q, e.sqq);
    if (has_min) e.sq += wq;
  }
  return e;
}

FinalSums ScalarPasses::Final(const float* x, const float* imp, int64_t n, const CandidateF& c,
                              bool has_min, int8_t* q) {
  float sse[kLanes] = {}, ssq[kLanes] = {}, wsse[kLanes] = {};
  FinalSums f;
  for (int64_t i = 0; i < n; ++i) {
    const int l = static_cast<int>(i % kLanes);
    const float xm = has_min ? x[i] - c.m : x[i];
    const float qi = RoundClampF(xm * c.is, c.lo, c.hi);
    q[i] = static_cast<int8_t>(qi);
    const float d = std::fma(-c.s, qi, xm);
    const float wd = imp ? imp[i] * d : d;
    sse[l] = std::fma(d, d, sse[l]);
    ssq[l] = std::fma(x[i], x[i], ssq[l]);
    wsse[l] = std::fma(wd, d, wsse[l]);
    f.max_abs = std::max(f.max_abs, std::fabs(d));
  }
  f.sse = Tree(sse);
  f.ssq = Tree(ssq);
  f.wsse = Tree(wsse);
  return f;
}

void QuantizeRowScalar(const GroupGeometry& geo, const float* x, const float* w,
                       const float* imp, int64_t cols, int grid, uint8_t* out, RowStats* stats) {
  impl::QuantizeRow<ScalarK>(geo, x, w, imp, cols, grid, out, stats);
}

bool LoadRowScalar(DType dtype, const void* src, int64_t n, float* dst) {
  const auto* s = static_cast<const uint16_t*>(src);
  int ok = 1;
  for (int64_t i = 0; i < n; ++i) {
    dst[i] = dtype == DType::kBF16 ? Bf16ToF32(s[i]) : F16ToF32(s[i]);
    ok &= std::fabs(dst[i]) <= 65504.f;  // NaN compares false
  }
  return ok != 0;
}

LoadRowFn SelectLoadRowFn(SimdLevel level) {
  const CpuFeatures& f = GetCpuFeatures();
  if (level == SimdLevel::kAvx512 && f.avx512) return LoadRowAvx512;
  if (level != SimdLevel::kScalar && f.avx2) return LoadRowAvx2;
  return LoadRowScalar;
}

RowFn SelectRowFn(SimdLevel level, SimdLevel* used) {
  const CpuFeatures& f = GetCpuFeatures();
  SimdLevel l = SimdLevel::kScalar;
  if (level == SimdLevel::kAvx512 && f.avx512) l = SimdLevel::kAvx512;
  else if (level != SimdLevel::kScalar && f.avx2) l = SimdLevel::kAvx2;
  if (used) *used = l;
  return l == SimdLevel::kAvx512 ? QuantizeRowAvx512
         : l == SimdLevel::kAvx2 ? QuantizeRowAvx2
                                 : QuantizeRowScalar;
}

}  // namespace glmq::search
