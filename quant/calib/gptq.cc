#include "quant/calib/gptq.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "core/status.h"
#include "quant/gemm.h"
#include "quant/calib/group_fit.h"
#include "quant/calib/linalg.h"
#include "schema/encodings.h"
#include "quant/reference.h"

namespace glmq::calib {
namespace {

constexpr int64_t kRowTile = 64;  // rows sharing one pass over U (cache reuse)

// Column order and its inverse; groups are always the file's original ones.
struct Order {
  std::vector<int64_t> perm;  // position p holds original column perm[p]
  std::vector<int64_t> pos;   // original column c sits at position pos[c]
};

// diag: [cols] H_jj in the original order.
Order MakeOrder(const std::vector<double>& diag, bool act_order) {
  const int64_t cols = static_cast<int64_t>(diag.size());
  Order o;
  o.perm.resize(cols);
  std::iota(o.perm.begin(), o.perm.end(), 0);
  if (act_order)
    std::stable_sort(o.perm.begin(), o.perm.end(),
                     [&](int64_t a, int64_t b) { return diag[a] > diag[b]; });
  o.pos.resize(cols);
  for (int64_t p = 0; p < cols; ++p) o.pos[o.perm[p]] = p;
  return o;
}

// a = J P H P^T J (J: index reversal, P: the order), H = scale * C h C
// (C = diag(col_scale), or none when empty), into the whole matrix (the
// Cholesky keeps its strict upper triangle as the copy to retry from).
// Returns the diagonal with dead channels set to 1.
absl::StatusOr<std::vector<double>> LoadReversed(const double* h, double scale,
                                                 const std::vector<float>& col_scale, int64_t n,
                                                 const Order& o, double* a, GptqReport* report) {
  auto rp = [&](int64_t p) { return o.perm[n - 1 - p]; };
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < n; ++p) {
    const double* row = h + rp(p) * n;
    double* ap = a + p * n;
    if (col_scale.empty()) {
      for (int64_t q = 0; q < n; ++q) ap[q] = scale * row[rp(q)];
    } else {
      const double sp = scale * col_scale[rp(p)];
      for (int64_t q = 0; q < n; ++q) ap[q] = sp * row[rp(q)] * col_scale[rp(q)];
    }
  }
  std::vector<double> diag(n);
  for (int64_t p = 0; p < n; ++p) {
    double d = a[p * n + p];
    if (!std::isfinite(d) || d < 0)
      return absl::InvalidArgumentError(absl::StrCat("H[", rp(p), "][", rp(p), "] is ", d));
    if (d == 0) {
      d = 1.0;
      ++report->dead_channels;
    }
    diag[p] = d;
  }
  return diag;
}

// The dampened Cholesky of a (see LoadReversed), retried with more
// dampening on failure; the lower triangle then holds L.
absl::Status DampedCholesky(double* a, int64_t n, const std::vector<double>& diag,
                            const GptqOptions& opt, GptqReport* report) {
  double mean_diag = 0;
  for (double d : diag) mean_diag += d;
  mean_diag /= static_cast<double>(n);
  // kMeanDiag: lambda on every channel; kRelative: lambda * H_jj on channel j.
  const bool relative = opt.damp_mode == GptqDamp::kRelative;
  const double most = relative ? 1.0 : mean_diag;
  double lambda = opt.damp * (relative ? 1.0 : mean_diag);
  absl::Status last;
  for (int attempt = 0; attempt < 4; ++attempt) {
    if (attempt > 0)
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < i; ++j) a[i * n + j] = a[j * n + i];
    for (int64_t p = 0; p < n; ++p) a[p * n + p] = diag[p] + (relative ? lambda * diag[p] : lambda);
    last = CholeskyLowerInPlace(a, n);
    if (last.ok()) {
      report->damp_used = relative ? lambda * mean_diag : lambda;
      return last;
    }
    lambda = lambda > 0 ? std::min(lambda * 10, most) : 1e-6 * most;
  }
  return Annotate(last, "GPTQ Hessian (even after dampening)");
}

// The upper Cholesky factor U of the dampened H^-1 in the permuted order, as
// f32 (the sweep's precision, like GPTQ's fp32 Hinv): U = J L^-1 J where
// J P H P^T J = L L^T (linalg.h), computed in one malloc'd f64 buffer that
// ends as the f32 result.
absl::StatusOr<std::unique_ptr<float[], FreeDeleter>> PrepareHinv(
    const double* h, double scale, const std::vector<float>& col_scale, int64_t n, const Order& o,
    const GptqOptions& opt, const std::function<void()>& loaded, GptqReport* report) {
  const size_t nn = static_cast<size_t>(n) * static_cast<size_t>(n);
  double* a = static_cast<double*>(std::malloc(nn * sizeof(double)));
  if (a == nullptr)
    return absl::ResourceExhaustedError(absl::StrCat("GPTQ: no memory for ", n, "^2 doubles"));
  std::unique_ptr<double[], FreeDeleter> owned(a);
  GLMQ_ASSIGN_OR_RETURN(std::vector<double> diag,
                        LoadReversed(h, scale, col_scale, n, o, a, report));
  if (loaded) loaded();
  GLMQ_RETURN_IF_ERROR(DampedCholesky(a, n, diag, opt, report));
  InvertLowerInPlace(a, n);
  // f64 -> f32 in place, row by row: f32 row i ends at byte 4 n (i + 1) <= 8 n i,
  // so it only overwrites rows already converted (row 0 goes through tmp).
  std::vector<double> tmp(n);
  std::vector<float> tmpf(n);
  char* bytes = reinterpret_cast<char*>(a);
  for (int64_t i = 0; i < n; ++i) {
    std::memcpy(tmp.data(), bytes + i * n * sizeof(double), n * sizeof(double));
    for (int64_t j = 0; j < n; ++j) tmpf[j] = static_cast<float>(tmp[j]);
    std::memcpy(bytes + i * n * sizeof(float), tmpf.data(), n * sizeof(float));
  }
  float* f = reinterpret_cast<float*>(owned.release());
  std::reverse(f, f + nn);
  float* shrunk = static_cast<float*>(std::realloc(f, nn * sizeof(float)));
  return std::unique_ptr<float[], FreeDeleter>(shrunk != nullptr ? shrunk : f);
}

struct SweepContext {
  const EncodingTraits* t;
  GroupGeometry geo;
  int64_t cols;
  const Order* order;
  const float* u;
  int block;
  bool lazy;  // GptqGroups::kLazy: fit each group when its first column comes up
};

// Runs the column sweep for `n` rows held in w[n, cols] (permuted order,
// updated in place). Writes codes[n, cols] (original order); the group fits
// fits[n, n_groups] are written (c.lazy) or read (static groups).
void SweepTile(const SweepContext& c, float* w, int64_t n, int8_t* codes, GroupFit* fits) {
  const int64_t cols = c.cols, g = c.geo.g, ng = c.geo.n_groups;
  const float* u = c.u;
  std::vector<char> fitted(static_cast<size_t>(n * ng), c.lazy ? 0 : 1);
  std::vector<float> err(static_cast<size_t>(n * c.block));
  std::vector<float> gbuf(static_cast<size_t>(g));
  for (int64_t b0 = 0; b0 < cols; b0 += c.block) {
    const int64_t b1 = std::min<int64_t>(cols, b0 + c.block), bw = b1 - b0;
    for (int64_t r = 0; r < n; ++r) {
      float* wr = w + r * cols;
      for (int64_t p = b0; p < b1; ++p) {
        const int64_t col = c.order->perm[p], gi = col / g;
        GroupFit& f = fits[r * ng + gi];
        if (!fitted[r * ng + gi]) {
          const int64_t gb = gi * g, gn = std::min<int64_t>(g, cols - gb);
          for (int64_t k = 0; k < gn; ++k) gbuf[k] = wr[c.order->pos[gb + k]];
          f = FitGroup(*c.t, gbuf.data(), gn, 1);
          fitted[r * ng + gi] = 1;
        }
        const int8_t q = QuantizeCode(*c.t, f, wr[p]);
        codes[r * cols + col] = q;
        const float* up = u + p * cols;
        const float e = (wr[p] - DequantizeCode(f, q)) / up[p];
        for (int64_t j = p + 1; j < b1; ++j) wr[j] -= e * up[j];
        err[r * c.block + (p - b0)] = e;
      }
    }
    // Lazy batch update of the columns after the block: W[:, b1:] -= E U[b0:b1, b1:].
    gemm::SubMatMul(n, cols - b1, bw, err.data(), c.block, u + b0 * cols + b1, cols, w + b1, cols);
  }
}

// The fits of GptqGroups::kStatic / kStaticSearched for rows w[rows, cols]
// (original order, before any error feedback): [rows, n_groups].
absl::StatusOr<std::vector<GroupFit>> StaticGroupFits(const GptqPrepared& prep, const float* w,
                                                      int64_t rows, const QuantSpec& spec,
                                                      const GroupGeometry& geo) {
  const int64_t cols = prep.cols, ng = geo.n_groups;
  std::vector<GroupFit> fits(static_cast<size_t>(rows * ng));
  if (prep.groups == GptqGroups::kStatic) {
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t gi = 0; gi < ng; ++gi) {
        const int64_t gb = gi * geo.g;
        fits[r * ng + gi] =
            FitGroup(*geo.traits, w + r * cols + gb, std::min<int64_t>(geo.g, cols - gb), 1);
      }
    return fits;
  }
  // kStaticSearched: imatrix's search with H's diagonal, then the headers.
  std::vector<uint8_t> bytes(static_cast<size_t>(rows * geo.row_bytes));
  QuantWeighting weighting;
  weighting.importance = prep.h_diag.data();
  weighting.magnitude = true;
  GLMQ_RETURN_IF_ERROR(
      QuantizeMatrixWeighted(w, rows, cols, spec, weighting, bytes.data(), nullptr).status());
  std::vector<int8_t> q(static_cast<size_t>(geo.g));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t gi = 0; gi < ng; ++gi) {
      const UnpackedGroup u =
          UnpackGroup(geo, bytes.data() + r * geo.row_bytes + gi * geo.group_bytes, q.data());
      fits[r * ng + gi] = GroupFitOf(*geo.traits, u.scale, u.min);
    }
  return fits;
}

}  // namespace

double HessianLoss(const float* w, const float* deq, int64_t rows, int64_t cols,
                   const std::vector<double>& h) {
  double total = 0;
#pragma omp parallel for reduction(+ : total) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<double> d(cols);
    for (int64_t j = 0; j < cols; ++j) d[j] = static_cast<double>(w[r * cols + j]) - deq[r * cols + j];
    double s = 0;
    for (int64_t i = 0; i < cols; ++i) {
      if (d[i] == 0) continue;
      double hi = 0;
      const double* hrow = &h[i * cols];
      for (int64_t j = 0; j < cols; ++j) hi += hrow[j] * d[j];
      s += d[i] * hi;
    }
    total += s;
  }
  return rows > 0 ? total / static_cast<double>(rows) : 0.0;
}

absl::StatusOr<GptqPrepared> GptqPrepare(const double* h, int64_t cols, double h_scale,
                                         const GptqOptions& options,
                                         const std::function<void()>& loaded,
                                         const std::vector<float>& col_scale) {
  if (cols <= 0 || h == nullptr)
    return absl::InvalidArgumentError(absl::StrCat("GPTQ: Hessian for ", cols, " columns"));
  if (!col_scale.empty() && static_cast<int64_t>(col_scale.size()) != cols)
    return absl::InvalidArgumentError(
        absl::StrCat("GPTQ: ", col_scale.size(), " column scales for ", cols, " columns"));
  GptqPrepared prep;
  prep.cols = cols;
  prep.groups = options.groups;
  std::vector<double> diag(cols);
  for (int64_t j = 0; j < cols; ++j) {
    const double c = col_scale.empty() ? 1.0 : col_scale[j];
    diag[j] = h_scale * h[j * cols + j] * c * c;
  }
  if (options.groups == GptqGroups::kStaticSearched) {
    prep.h_diag.resize(cols);
    for (int64_t j = 0; j < cols; ++j)  // dead channels count as 1 (as in the sweep)
      prep.h_diag[j] = diag[j] > 0 && std::isfinite(diag[j]) ? static_cast<float>(diag[j]) : 1.f;
  }
  Order order = MakeOrder(diag, options.act_order);
  GLMQ_ASSIGN_OR_RETURN(
      prep.u, PrepareHinv(h, h_scale, col_scale, cols, order, options, loaded, &prep.report));
  prep.perm = std::move(order.perm);
  prep.pos = std::move(order.pos);
  return prep;
}

absl::StatusOr<GptqPrepared> GptqPrepare(const std::vector<double>& h, int64_t cols,
                                         const GptqOptions& options) {
  if (cols <= 0 || static_cast<int64_t>(h.size()) != cols * cols)
    return absl::InvalidArgumentError(
        absl::StrCat("GPTQ: Hessian of ", h.size(), " values for ", cols, " columns"));
  return GptqPrepare(h.data(), cols, 1.0, options);
}

absl::Status GptqQuantizeRows(const GptqPrepared& prep, const float* w, int64_t rows,
                              const QuantSpec& spec, int block_size, uint8_t* out) {
  const int64_t cols = prep.cols;
  GLMQ_ASSIGN_OR_RETURN(GroupGeometry geo,
                        GetGroupGeometry(spec.encoding, spec.group_size, cols));
  if (block_size <= 0)
    return absl::InvalidArgumentError(absl::StrCat("GPTQ block size ", block_size));
  for (int64_t i = 0; i < rows * cols; ++i)
    if (!std::isfinite(w[i]))
      return absl::InvalidArgumentError(absl::StrCat("GPTQ: weight [", i / cols, ", ", i % cols,
                                                     "] is not finite"));
  const Order order{prep.perm, prep.pos};
  const bool lazy = prep.groups == GptqGroups::kLazy;
  SweepContext ctx{geo.traits, geo, cols, &order, prep.u.get(), block_size, lazy};
  std::vector<GroupFit> static_fits;  // [rows, n_groups], from the original weights
  if (!lazy) {
    GLMQ_ASSIGN_OR_RETURN(static_fits, StaticGroupFits(prep, w, rows, spec, geo));
  }
  const int64_t n_tiles = (rows + kRowTile - 1) / kRowTile;
#pragma omp parallel for schedule(dynamic)
  for (int64_t tile = 0; tile < n_tiles; ++tile) {
    const int64_t r0 = tile * kRowTile, n = std::min(kRowTile, rows - r0);
    std::vector<float> wt(static_cast<size_t>(n * cols));
    for (int64_t r = 0; r < n; ++r)
      for (int64_t p = 0; p < cols; ++p) wt[r * cols + p] = w[(r0 + r) * cols + order.perm[p]];
    std::vector<int8_t> codes(static_cast<size_t>(n * cols));
    std::vector<GroupFit> fits(static_cast<size_t>(n * geo.n_groups));
    if (!lazy) std::copy_n(&static_fits[r0 * geo.n_groups], n * geo.n_groups, fits.begin());
    SweepTile(ctx, wt.data(), n, codes.data(), fits.data());
    std::vector<int8_t> q(static_cast<size_t>(geo.g));
    for (int64_t r = 0; r < n; ++r) {
      uint8_t* row_out = out + (r0 + r) * geo.row_bytes;
      for (int64_t gi = 0; gi < geo.n_groups; ++gi) {
        const int64_t gb = gi * geo.g, gn = std::min<int64_t>(geo.g, cols - gb);
        std::fill(q.begin(), q.end(), 0);
        std::copy_n(&codes[r * cols + gb], gn, q.begin());
        const GroupFit& f = fits[r * geo.n_groups + gi];
        PackGroup(geo, f.scale16, f.min16, q.data(), row_out + gi * geo.group_bytes);
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<GptqReport> GptqQuantize(const float* w, int64_t rows, int64_t cols,
                                        const std::vector<double>& h, const QuantSpec& spec,
                                        const GptqOptions& options, uint8_t* out) {
  GLMQ_ASSIGN_OR_RETURN(GroupGeometry geo,
                        GetGroupGeometry(spec.encoding, spec.group_size, cols));
  if (rows <= 0) return absl::InvalidArgumentError(absl::StrCat("GPTQ: ", rows, " rows"));
  GLMQ_ASSIGN_OR_RETURN(GptqPrepared prep, GptqPrepare(h, cols, options));
  GLMQ_RETURN_IF_ERROR(GptqQuantizeRows(prep, w, rows, spec, options.block_size, out));
  GptqReport report = prep.report;
  if (!options.compute_loss) return report;
  std::vector<float> deq(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    DequantizeRowRef(geo, out + r * geo.row_bytes, cols, &deq[r * cols]);
  report.proxy_loss = HessianLoss(w, deq.data(), rows, cols, h);
  return report;
}

}  // namespace glmq::calib
