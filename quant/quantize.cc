#include "quant/quantize.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <vector>

#include "core/dtype.h"
#include "core/status.h"
#include "schema/encodings.h"
#include "quant/reference.h"
#include "quant/search.h"

namespace glmq {

void QuantStats::Add(const QuantStats& o) {
  sum_sq_err += o.sum_sq_err;
  sum_sq += o.sum_sq;
  weighted_sq_err += o.weighted_sq_err;
  max_abs_err = std::max(max_abs_err, o.max_abs_err);
  n_values += o.n_values;
}

int DefaultSearchGrid(pb::Encoding encoding) { return encoding == pb::ENCODING_Q8_SYM ? 1 : 8; }

absl::Status CheckSearchGrid(const QuantSpec& spec) {
  if (spec.search_grid >= 0 && spec.search_grid <= kMaxSearchGrid) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("--search-grid ", spec.search_grid,
                                                 " is not within 0..", kMaxSearchGrid));
}

namespace {

constexpr float kF16Max = 65504.f;
// Shrink factors run from 1 down to 1 - kShrinkRange (clip search range as
// in llama.cpp's make_qx_quants / AutoAWQ's clip search: beyond ~25% the
// clipped outliers always cost more than the finer step gains).
constexpr float kShrinkRange = 0.25f;

struct Candidate {
  uint16_t scale16 = 0;
  uint16_t min16 = 0;
};

// One candidate's codes q, its difference diff = deq - x (what the caller
// ranks) and the weighted sums a least-squares refit needs.
struct Eval {
  double sxq = 0, sqq = 0, sq = 0, sx = 0, sw = 0;
};

Eval Evaluate(const EncodingTraits& t, const float* x, const float* w, int64_t n, Candidate c,
              int8_t* q, float* diff) {
  Eval e;
  const float s = F16ToF32(c.scale16);
  const float m = t.has_min ? F16ToF32(c.min16) : 0.f;
  const float is = s != 0.f ? 1.f / s : 0.f;
  const float lo = static_cast<float>(t.q_min), hi = static_cast<float>(t.q_max);
  for (int64_t i = 0; i < n; ++i) {
    const float qi = RoundClampF((x[i] - m) * is, lo, hi);
    q[i] = static_cast<int8_t>(qi);
    diff[i] = (s * qi + m) - x[i];
    const double wi = w ? w[i] : 1.0;
    e.sxq += wi * x[i] * qi;
    e.sqq += wi * qi * qi;
    e.sq += wi * qi;
    e.sx += wi * x[i];
    e.sw += wi;
  }
  return e;
}

bool FitsF16(double v) { return std::isfinite(v) && std::fabs(v) <= kF16Max; }

// Least-squares scale (and min) for the q of `e`; false if degenerate.
bool Refit(const EncodingTraits& t, const Eval& e, Candidate* out) {
  if (!t.has_min) {
    if (e.sqq <= 0) return false;
    const double s = e.sxq / e.sqq;
    if (!FitsF16(s)) return false;
    out->scale16 = F16Nearest(static_cast<float>(s));
    return true;
  }
  const double det = e.sqq * e.sw - e.sq * e.sq;
  if (!(det > 0)) return false;
  const double s = (e.sxq * e.sw - e.sq * e.sx) / det;
  const double m = (e.sqq * e.sx - e.sq * e.sxq) / det;
  if (!FitsF16(s) || !FitsF16(m) || s <= 0) return false;
  out->scale16 = F16Nearest(static_cast<float>(s));
  out->min16 = F16Nearest(static_cast<float>(m));
  return true;
}

// Candidate k of the grid (k = 0 is the plain RTN choice of QuantizeRowRef).
Candidate MakeCandidate(const EncodingTraits& t, float mn, float mx, float amax, float signed_max,
                        int k, int grid) {
  Candidate c;
  if (k == 0) {
    if (t.has_min) {
      c.min16 = F16Down(mn);
      c.scale16 = F16MagnitudeUp((mx - F16ToF32(c.min16)) / t.q_max);
    } else {
      c.scale16 = F16MagnitudeUp(amax / t.q_max);
    }
    return c;
  }
  // q4 alternates: odd k = full negative range at step (k-1)/2, even k =
  // symmetric range at step k/2. Others: step k.
  const bool full_range = t.q_min == -t.q_max - 1;
  const int step = full_range ? ((k % 2) == 1 ? (k - 1) / 2 : k / 2) : k;
  const float f = 1.f - kShrinkRange * static_cast<float>(step) / static_cast<float>(grid);
  if (t.has_min) {
    const float half = 0.5f * (1.f - f) * (mx - mn);
    const float lo = mn + half, hi = mx - half;
    c.min16 = F16Nearest(lo);
    c.scale16 = F16Nearest((hi - lo) / t.q_max);
  } else if (full_range && (k % 2) == 1) {
    // Full negative range: the largest-magnitude value maps onto q_min.
    c.scale16 = F16Nearest(f * signed_max / t.q_min);
  } else {
    c.scale16 = F16Nearest(f * amax / t.q_max);
  }
  return c;
}

// Ranking state of one thread: the group's position and room for every
// candidate's codes and difference d = deq - x.
using RankFn = std::function<void(int64_t, int64_t, const float*, int64_t, int64_t, double*)>;
struct GroupContext {
  const RankFn* rank = nullptr;
  int64_t row = 0, begin = 0;
  std::vector<Candidate> cands;
  std::vector<int8_t> codes;  // [candidates, g]
  std::vector<float> d;       // [candidates, n]
  std::vector<double> err;    // [candidates]
};

// Quantizes one group of n valid values (g - n padding values are q = 0),
// choosing among the candidates by the caller's rank. w: per-element error
// weights of the refits (null = 1). Unlike the default search
// (quant/search_impl.h), which refits only the best bases, this refits every
// base, so its candidates include whatever the default search could pick and
// ranking by the caller's score never loses to it (calib_math_test
// RankByOutputErrorNeverLosesToRtnPerGroup). All candidates are ranked in one
// call, in the order base 0, its refit, base 1, its refit, ...; the first of
// least score wins.
void QuantizeGroup(const GroupGeometry& geo, const float* x, const float* w, int64_t n, int grid,
                   GroupContext& ctx, uint8_t* out) {
  const EncodingTraits& t = *geo.traits;
  float mn = x[0], mx = x[0], amax = 0.f, signed_max = 0.f;
  for (int64_t i = 0; i < n; ++i) {
    mn = std::min(mn, x[i]);
    mx = std::max(mx, x[i]);
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      signed_max = x[i];
    }
  }
  const int n_candidates = grid <= 0 ? 1 : (t.q_min == -t.q_max - 1 ? 2 * grid : grid);
  const size_t most = 2 * static_cast<size_t>(n_candidates);  // every base and its refit
  if (ctx.cands.size() < most) {
    ctx.cands.resize(most);
    ctx.codes.resize(most * geo.g);
    ctx.d.resize(most * geo.g);
    ctx.err.resize(most);
  }
  int64_t count = 0;
  // Evaluates c into the next slot; returns its Eval (for the refit).
  auto add = [&](Candidate c) {
    int8_t* q = &ctx.codes[count * geo.g];
    std::fill(q, q + geo.g, 0);
    const Eval e = Evaluate(t, x, w, n, c, q, &ctx.d[count * n]);
    ctx.cands[count++] = c;
    return e;
  };
  const Candidate base0 = MakeCandidate(t, mn, mx, amax, signed_max, 0, grid);
  Eval e0 = add(base0);
  for (int k = 0; k < n_candidates && amax > 0.f; ++k) {
    const Candidate c = k == 0 ? base0 : MakeCandidate(t, mn, mx, amax, signed_max, k, grid);
    const Eval e = k == 0 ? e0 : add(c);
    Candidate r = c;
    if (grid > 0 && Refit(t, e, &r)) add(r);
  }
  (*ctx.rank)(ctx.row, ctx.begin, ctx.d.data(), n, count, ctx.err.data());
  int64_t best = 0;
  for (int64_t i = 1; i < count; ++i)
    if (ctx.err[i] < ctx.err[best]) best = i;
  PackGroup(geo, ctx.cands[best].scale16, ctx.cands[best].min16, &ctx.codes[best * geo.g], out);
}

// Index of the first row with a non-finite value or a value too large for
// an f16 scale, or -1.
int64_t FirstBadRow(const float* w, int64_t rows, int64_t cols, const EncodingTraits& t) {
  // Every |value| <= f16 max keeps scales (span / q_max) and mins in range.
  const float limit = kF16Max;
  int64_t bad = std::numeric_limits<int64_t>::max();
#pragma omp parallel for reduction(min : bad) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = w + r * cols;
    int ok = 1;  // no early exit: the loop vectorizes (NaN compares false)
    for (int64_t c = 0; c < cols; ++c) ok &= std::fabs(x[c]) <= limit;
    if (!ok) bad = std::min(bad, r);
  }
  return bad == std::numeric_limits<int64_t>::max() ? -1 : bad;
}

// True if every value of x[n] is finite and within the f16 range (as
// FirstBadRow).
bool RowInRange(const float* x, int64_t n) {
  int ok = 1;  // no early exit: the loop vectorizes (NaN compares false)
  for (int64_t c = 0; c < n; ++c) ok &= std::fabs(x[c]) <= kF16Max;
  return ok != 0;
}

absl::Status CheckImportance(const float* importance, int64_t cols) {
  if (importance != nullptr)
    for (int64_t c = 0; c < cols; ++c)
      if (!(importance[c] >= 0.f) || !std::isfinite(importance[c]))
        return absl::InvalidArgumentError(
            absl::StrCat("importance[", c, "] = ", importance[c], " (must be finite and >= 0)"));
  return absl::OkStatus();
}

// Adds one row's search statistics (cols values) to `total`.
void AddRow(const search::RowStats& rs, int64_t cols, QuantStats* total) {
  total->sum_sq_err += rs.sum_sq_err;
  total->sum_sq += rs.sum_sq;
  total->weighted_sq_err += rs.weighted_sq_err;
  total->max_abs_err = std::max(total->max_abs_err, rs.max_abs_err);
  total->n_values += cols;
}

absl::Status BadRowError(int64_t row) {
  return absl::InvalidArgumentError(absl::StrCat(
      "row ", row, " holds a non-finite value or one too large for an f16 scale"));
}

}  // namespace

absl::StatusOr<double> QuantizeMatrixRaw(DType dtype, const void* w, int64_t rows, int64_t cols,
                                         const QuantSpec& spec, const float* importance,
                                         uint8_t* out, QuantStats* stats) {
  if (dtype != DType::kF32 && dtype != DType::kF16 && dtype != DType::kBF16)
    return absl::InvalidArgumentError(
        absl::StrCat("cannot quantize values stored as ", Traits(dtype).name));
  GLMQ_RETURN_IF_ERROR(CheckSearchGrid(spec));
  GLMQ_ASSIGN_OR_RETURN(GroupGeometry geo, GetGroupGeometry(spec.encoding, spec.group_size, cols));
  GLMQ_RETURN_IF_ERROR(CheckImportance(importance, cols));
  const search::RowFn row_fn = search::SelectRowFn(ActiveSimdLevel());
  const search::LoadRowFn load_row = search::SelectLoadRowFn(ActiveSimdLevel());
  const size_t in_row = static_cast<size_t>(cols) * DTypeSize(dtype);
  const auto* src = static_cast<const uint8_t*>(w);
  QuantStats total;
  int64_t bad = std::numeric_limits<int64_t>::max();
#pragma omp parallel reduction(min : bad)
  {
    std::vector<float> row(dtype == DType::kF32 ? 0 : cols);  // [cols], L2-resident
    QuantStats local;
#pragma omp for schedule(dynamic, 16)
    for (int64_t r = 0; r < rows; ++r) {
      const float* x = reinterpret_cast<const float*>(src + r * in_row);
      bool in_range;
      if (dtype == DType::kF32) {
        in_range = RowInRange(x, cols);
      } else {
        in_range = load_row(dtype, src + r * in_row, cols, row.data());
        x = row.data();
      }
      if (!in_range) {
        bad = std::min(bad, r);
        continue;
      }
      search::RowStats rs;  // per row, then added, as QuantizeMatrixWeighted
      row_fn(geo, x, importance, importance, cols, spec.search_grid, out + r * geo.row_bytes,
             &rs);
      AddRow(rs, cols, &local);
    }
#pragma omp critical
    total.Add(local);
  }
  if (bad != std::numeric_limits<int64_t>::max()) return BadRowError(bad);
  if (stats != nullptr) *stats = total;
  return total.nmse();
}

absl::StatusOr<uint64_t> QuantizedBytes(const QuantSpec& spec, int64_t rows, int64_t cols) {
  GLMQ_ASSIGN_OR_RETURN(GroupGeometry geo, GetGroupGeometry(spec.encoding, spec.group_size, cols));
  if (rows < 0) return absl::InvalidArgumentError(absl::StrCat("negative row count ", rows));
  return static_cast<uint64_t>(rows) * geo.row_bytes;
}

absl::StatusOr<double> QuantizeMatrix(const float* w, int64_t rows, int64_t cols,
                                      const QuantSpec& spec, const float* importance,
                                      uint8_t* out, QuantStats* stats) {
  QuantWeighting weighting;
  weighting.importance = importance;
  return QuantizeMatrixWeighted(w, rows, cols, spec, weighting, out, stats);
}

absl::StatusOr<double> QuantizeMatrixWeighted(const float* w, int64_t rows, int64_t cols,
                                              const QuantSpec& spec,
                                              const QuantWeighting& weighting, uint8_t* out,
                                              QuantStats* stats) {
  const float* importance = weighting.importance;
  GLMQ_RETURN_IF_ERROR(CheckSearchGrid(spec));
  GLMQ_ASSIGN_OR_RETURN(GroupGeometry geo, GetGroupGeometry(spec.encoding, spec.group_size, cols));
  const EncodingTraits& t = *geo.traits;
  GLMQ_RETURN_IF_ERROR(CheckImportance(importance, cols));
  if (const int64_t bad = FirstBadRow(w, rows, cols, t); bad >= 0) return BadRowError(bad);
  QuantStats total;
  const search::RowFn row_fn = search::SelectRowFn(ActiveSimdLevel());
#pragma omp parallel
  {
    std::vector<float> deq(cols), row_w(weighting.magnitude ? cols : 0);
    QuantStats local;
    GroupContext ctx;
    ctx.rank = weighting.rank ? &weighting.rank : nullptr;
#pragma omp for schedule(dynamic, 16)
    for (int64_t r = 0; r < rows; ++r) {
      const float* x = w + r * cols;
      uint8_t* row_out = out + r * geo.row_bytes;
      const float* elem_w = importance;
      if (weighting.magnitude) {
        double sigma2 = 0;
        for (int64_t c = 0; c < cols; ++c) sigma2 += static_cast<double>(x[c]) * x[c];
        sigma2 /= static_cast<double>(cols);
        for (int64_t c = 0; c < cols; ++c)
          row_w[c] = (importance ? importance[c] : 1.f) *
                     static_cast<float>(std::sqrt(sigma2 + static_cast<double>(x[c]) * x[c]));
        elem_w = row_w.data();
      }
      ctx.row = r;
      if (ctx.rank == nullptr) {  // the default search, SIMD (quant/search.h)
        search::RowStats rs;
        row_fn(geo, x, elem_w, importance, cols, spec.search_grid, row_out, &rs);
        AddRow(rs, cols, &local);
        continue;
      }
      for (int64_t gi = 0; gi < geo.n_groups; ++gi) {
        const int64_t begin = gi * geo.g;
        const int64_t n = std::min<int64_t>(geo.g, cols - begin);
        ctx.begin = begin;
        QuantizeGroup(geo, x + begin, elem_w ? elem_w + begin : nullptr, n, spec.search_grid, ctx,
                      row_out + gi * geo.group_bytes);
      }
      DequantizeRowRef(geo, row_out, cols, deq.data());
      for (int64_t c = 0; c < cols; ++c) {
        const double d = static_cast<double>(x[c]) - deq[c];
        local.sum_sq_err += d * d;
        local.sum_sq += static_cast<double>(x[c]) * x[c];
        local.weighted_sq_err += (importance ? importance[c] : 1.0) * d * d;
        local.max_abs_err = std::max(local.max_abs_err, std::fabs(d));
      }
      local.n_values += cols;
    }
#pragma omp critical
    total.Add(local);
  }
  if (stats != nullptr) *stats = total;
  return total.nmse();
}

}  // namespace glmq
