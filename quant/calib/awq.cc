#include "quant/calib/awq.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "core/status.h"
#include "quant/calib/group_fit.h"
#include "schema/encodings.h"
#include "quant/reference.h"

namespace glmq::calib {
namespace {

// Clamp bounds of one group for shrink ratio r.
void ClipRange(const EncodingTraits& t, const float* x, int64_t n, float r, float* lo,
               float* hi) {
  float mn = x[0], mx = x[0], amax = 0.f;
  for (int64_t i = 0; i < n; ++i) {
    mn = std::min(mn, x[i]);
    mx = std::max(mx, x[i]);
    amax = std::max(amax, std::fabs(x[i]));
  }
  if (t.has_min) {
    *lo = r * mn;
    *hi = r * mx;
  } else {
    *hi = r * amax;
    *lo = -*hi;
  }
}

// Clamps x[0..n) to [lo, hi] into c, then RTN: d = deq - original x.
void ClampQuantError(const EncodingTraits& t, const float* x, int64_t n, float lo, float hi,
                     float* c, float* d) {
  for (int64_t i = 0; i < n; ++i) c[i] = std::clamp(x[i], lo, hi);
  const GroupFit f = FitGroup(t, c, n, 1);
  for (int64_t i = 0; i < n; ++i) d[i] = DequantizeCode(f, QuantizeCode(t, f, c[i])) - x[i];
}

// Rows [0, rows) or a sorted uniform sample of `k` of them (seeded).
std::vector<int64_t> SampleRows(int64_t rows, int64_t k, uint64_t seed) {
  std::vector<int64_t> idx(static_cast<size_t>(rows));
  std::iota(idx.begin(), idx.end(), 0);
  if (k <= 0 || k >= rows) return idx;
  std::mt19937_64 rng(seed);
  for (int64_t i = 0; i < k; ++i) {  // partial Fisher-Yates
    std::uniform_int_distribution<int64_t> pick(i, rows - 1);
    std::swap(idx[i], idx[pick(rng)]);
  }
  idx.resize(k);
  std::sort(idx.begin(), idx.end());
  return idx;
}

}  // namespace

absl::Status FakeQuantize(const float* w, int64_t rows, int64_t cols, const QuantSpec& spec,
                          float* out, const QuantWeighting& weighting) {
  GLMQ_ASSIGN_OR_RETURN(GroupGeometry geo,
                        GetGroupGeometry(spec.encoding, spec.group_size, cols));
  if (spec.search_grid > 0) {
    std::vector<uint8_t> bytes(static_cast<size_t>(rows) * geo.row_bytes);
    GLMQ_RETURN_IF_ERROR(
        QuantizeMatrixWeighted(w, rows, cols, spec, weighting, bytes.data(), nullptr).status());
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r)
      DequantizeRowRef(geo, bytes.data() + r * geo.row_bytes, cols, out + r * cols);
    return absl::OkStatus();
  }
  const EncodingTraits& t = *geo.traits;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t gb = 0; gb < cols; gb += geo.g) {
      const int64_t n = std::min<int64_t>(geo.g, cols - gb);
      const float* x = w + r * cols + gb;
      const GroupFit f = FitGroup(t, x, n, 1);
      for (int64_t i = 0; i < n; ++i)
        out[r * cols + gb + i] = DequantizeCode(f, QuantizeCode(t, f, x[i]));
    }
  }
  return absl::OkStatus();
}

double ActivationRoundingError(const float* w, int64_t rows, int64_t cols,
                               const std::vector<float>& e_x2, int64_t block) {
  std::vector<double> step2(cols);  // E[step^2] / 12 of each channel's block
  for (int64_t b0 = 0; b0 < cols; b0 += block) {
    const int64_t b1 = std::min(cols, b0 + block);
    double m = 0;
    for (int64_t k = b0; k < b1; ++k) m = std::max<double>(m, e_x2[k]);
    for (int64_t k = b0; k < b1; ++k) step2[k] = m / (127.0 * 127.0 * 12.0);
  }
  double e = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) e += step2[j] * w[r * cols + j] * w[r * cols + j];
  return e;
}

absl::StatusOr<AwqScaleResult> AwqSearchScale(const float* w, int64_t rows, int64_t cols,
                                              const ActivationModel& act,
                                              const std::vector<float>& mean_abs,
                                              const QuantSpec& spec, const AwqOptions& options) {
  if (act.cols() != cols || static_cast<int64_t>(mean_abs.size()) != cols)
    return absl::InvalidArgumentError(absl::StrCat("AWQ: weight of ", cols, " columns, input of ",
                                                   act.cols(), " channels, ", mean_abs.size(),
                                                   " channel means"));
  float xmax = 0.f;
  for (float v : mean_abs) {
    if (!std::isfinite(v) || v < 0)
      return absl::InvalidArgumentError(absl::StrCat("AWQ: channel mean ", v));
    xmax = std::max(xmax, v);
  }
  const float floor = std::max(xmax * 1e-8f, 1e-30f);
  const std::vector<int64_t> pick = SampleRows(rows, options.search_rows, options.seed);
  const int64_t n_rows = static_cast<int64_t>(pick.size());
  std::vector<float> wsub;  // the sampled rows, [n_rows, cols]
  const float* wp = w;
  if (n_rows < rows) {
    wsub.resize(static_cast<size_t>(n_rows * cols));
    for (int64_t i = 0; i < n_rows; ++i)
      std::copy_n(w + pick[i] * cols, cols, wsub.data() + i * cols);
    wp = wsub.data();
  }
  const double to_all = static_cast<double>(rows) / static_cast<double>(n_rows);
  const size_t nw = static_cast<size_t>(n_rows * cols);
  std::vector<float> ws(nw), d(nw);
  // imatrix's weighting (options.diagonal): E[x_j^2] floored at 1e-6 of its
  // mean, then divided by s_j^2 per alpha.
  std::vector<float> diag, imp;
  QuantWeighting weighting;
  if (options.diagonal) {
    diag = act.Diagonal();
    double mean = 0;
    for (float v : diag) mean += v;
    mean /= static_cast<double>(cols);
    for (float& v : diag) v = std::max(v, static_cast<float>(1e-6 * mean));
    imp.resize(cols);
    weighting.importance = imp.data();
    weighting.magnitude = true;
  }
  AwqScaleResult best;
  best.loss = -1;
  best.rows_searched = n_rows;
  for (int k = 0; k < std::max(1, options.scale_grid); ++k) {
    const double alpha = static_cast<double>(k) / std::max(1, options.scale_grid);
    std::vector<float> s(cols);
    double smax = 0, smin = 1e300;
    for (int64_t j = 0; j < cols; ++j) {
      s[j] = static_cast<float>(std::pow(std::max(mean_abs[j], floor), alpha));
      smax = std::max<double>(smax, s[j]);
      smin = std::min<double>(smin, s[j]);
    }
    const float norm = static_cast<float>(1.0 / std::sqrt(smax * smin));
    for (float& v : s) v *= norm;
    for (int64_t r = 0; r < n_rows; ++r)
      for (int64_t j = 0; j < cols; ++j) ws[r * cols + j] = wp[r * cols + j] * s[j];
    for (size_t j = 0; j < imp.size(); ++j) imp[j] = diag[j] / (s[j] * s[j]);
    GLMQ_RETURN_IF_ERROR(FakeQuantize(ws.data(), n_rows, cols, spec, d.data(), weighting));
    for (int64_t r = 0; r < n_rows; ++r)
      for (int64_t j = 0; j < cols; ++j)
        d[r * cols + j] = d[r * cols + j] / s[j] - wp[r * cols + j];
    double loss = act.RowsError(d.data(), n_rows) * to_all;
    if (options.diagonal && options.act_block > 0)  // imp = E[(x/s)^2], ws = w s
      loss += ActivationRoundingError(ws.data(), n_rows, cols, imp, options.act_block) * to_all;
    if (k == 0) best.loss_rtn = loss;
    if (best.loss < 0 || loss < best.loss) {
      best.loss = loss;
      best.alpha = alpha;
      best.scale = std::move(s);
    }
  }
  if (best.alpha > 0 && best.loss > (1.0 - options.min_gain) * best.loss_rtn) {
    best.loss = best.loss_rtn;  // not worth it: alpha = 0, s = 1
    best.alpha = 0;
    best.scale.assign(cols, 1.f);
  }
  return best;
}

absl::StatusOr<std::vector<float>> AwqSearchClip(const float* w, int64_t rows, int64_t cols,
                                                 const ActivationModel& act,
                                                 const QuantSpec& spec,
                                                 const AwqOptions& options) {
  GLMQ_ASSIGN_OR_RETURN(GroupGeometry geo,
                        GetGroupGeometry(spec.encoding, spec.group_size, cols));
  if (act.cols() != cols)
    return absl::InvalidArgumentError(
        absl::StrCat("AWQ clip: weight of ", cols, " columns, input of ", act.cols()));
  const EncodingTraits& t = *geo.traits;
  const int steps = std::max(1, static_cast<int>(options.max_shrink * options.clip_grid + 0.5));
  std::vector<float> ratios(static_cast<size_t>(rows * geo.n_groups), 1.f);
  if (!options.clip) return ratios;
#pragma omp parallel for schedule(dynamic)
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<float> c(geo.g), d(geo.g);
    for (int64_t gi = 0; gi < geo.n_groups; ++gi) {
      const int64_t gb = gi * geo.g, n = std::min<int64_t>(geo.g, cols - gb);
      const float* x = w + r * cols + gb;
      double best = -1;
      for (int k = 0; k < steps; ++k) {
        const float ratio = 1.f - static_cast<float>(k) / static_cast<float>(options.clip_grid);
        float lo, hi;
        ClipRange(t, x, n, ratio, &lo, &hi);
        ClampQuantError(t, x, n, lo, hi, c.data(), d.data());
        const double e = act.GroupError(d.data(), gb, n);
        if (best < 0 || e < best) {
          best = e;
          ratios[r * geo.n_groups + gi] = ratio;
        }
      }
    }
  }
  return ratios;
}

absl::Status ApplyClip(float* w, int64_t rows, int64_t cols, const QuantSpec& spec,
                       const float* ratios) {
  GLMQ_ASSIGN_OR_RETURN(GroupGeometry geo,
                        GetGroupGeometry(spec.encoding, spec.group_size, cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t gi = 0; gi < geo.n_groups; ++gi) {
      const int64_t gb = gi * geo.g, n = std::min<int64_t>(geo.g, cols - gb);
      float* x = w + r * cols + gb;
      float lo, hi;
      ClipRange(*geo.traits, x, n, ratios[r * geo.n_groups + gi], &lo, &hi);
      for (int64_t i = 0; i < n; ++i) x[i] = std::clamp(x[i], lo, hi);
    }
  }
  return absl::OkStatus();
}

}  // namespace glmq::calib
