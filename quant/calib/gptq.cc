#include "quant/calib/gptq.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/status.h"
#include "quant/calib/group_fit.h"
#include "quant/calib/linalg.h"
#include "quant/encodings.h"
#include "quant/reference.h"

namespace glmq::calib {
namespace {

constexpr int64_t kRowTile = 16;  // rows sharing one pass over U (cache reuse)

// Column order and its inverse; groups are always the file's original ones.
struct Order {
  std::vector<int64_t> perm;  // position p holds original column perm[p]
  std::vector<int64_t> pos;   // original column c sits at position pos[c]
};

Order MakeOrder(const std::vector<double>& h, int64_t cols, bool act_order) {
  Order o;
  o.perm.resize(cols);
  std::iota(o.perm.begin(), o.perm.end(), 0);
  if (act_order)
    std::stable_sort(o.perm.begin(), o.perm.end(), [&](int64_t a, int64_t b) {
      return h[a * cols + a] > h[b * cols + b];
    });
  o.pos.resize(cols);
  for (int64_t p = 0; p < cols; ++p) o.pos[o.perm[p]] = p;
  return o;
}

// Permuted, dead-channel-fixed, dampened H and its upper Cholesky inverse
// (as f32: the sweep's precision, like GPTQ's fp32 Hinv).
absl::StatusOr<std::vector<float>> PrepareHinv(const std::vector<double>& h, int64_t cols,
                                               const Order& o, const GptqOptions& opt,
                                               GptqReport* report) {
  std::vector<double> hp(static_cast<size_t>(cols * cols));
  double mean_diag = 0;
  for (int64_t p = 0; p < cols; ++p) {
    for (int64_t q = 0; q < cols; ++q) hp[p * cols + q] = h[o.perm[p] * cols + o.perm[q]];
    double& d = hp[p * cols + p];
    if (!std::isfinite(d) || d < 0)
      return absl::InvalidArgumentError(absl::StrCat("H[", o.perm[p], "][", o.perm[p], "] is ", d));
    if (d == 0) {
      d = 1.0;
      ++report->dead_channels;
    }
    mean_diag += d;
  }
  mean_diag /= static_cast<double>(cols);
  double lambda = opt.damp * mean_diag;
  absl::Status last;
  for (int attempt = 0; attempt < 4; ++attempt) {
    std::vector<double> damped = hp;
    for (int64_t p = 0; p < cols; ++p) damped[p * cols + p] += lambda;
    absl::StatusOr<std::vector<double>> u = UpperCholeskyOfInverse(damped, cols);
    if (u.ok()) {
      report->damp_used = lambda;
      return std::vector<float>(u->begin(), u->end());
    }
    last = u.status();
    lambda = lambda > 0 ? std::min(lambda * 10, mean_diag) : 1e-6 * mean_diag;
  }
  return Annotate(last, "GPTQ Hessian (even after dampening)");
}

struct SweepContext {
  const EncodingTraits* t;
  GroupGeometry geo;
  int64_t cols;
  const Order* order;
  const std::vector<float>* u;
  int block;
};

// Runs the column sweep for `n` rows held in w[n, cols] (permuted order,
// updated in place). Writes codes[n, cols] (original order) and the group
// fits fits[n, n_groups].
void SweepTile(const SweepContext& c, float* w, int64_t n, int8_t* codes, GroupFit* fits) {
  const int64_t cols = c.cols, g = c.geo.g, ng = c.geo.n_groups;
  const float* u = c.u->data();
  std::vector<char> fitted(static_cast<size_t>(n * ng), 0);
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
    for (int64_t k = 0; k < bw; ++k) {
      const float* up = u + (b0 + k) * cols;
      for (int64_t r = 0; r < n; ++r) {
        const float e = err[r * c.block + k];
        float* wr = w + r * cols;
        for (int64_t j = b1; j < cols; ++j) wr[j] -= e * up[j];
      }
    }
  }
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

absl::StatusOr<GptqPrepared> GptqPrepare(const std::vector<double>& h, int64_t cols,
                                         const GptqOptions& options) {
  if (cols <= 0 || static_cast<int64_t>(h.size()) != cols * cols)
    return absl::InvalidArgumentError(
        absl::StrCat("GPTQ: Hessian of ", h.size(), " values for ", cols, " columns"));
  GptqPrepared prep;
  prep.cols = cols;
  Order order = MakeOrder(h, cols, options.act_order);
  GLMQ_ASSIGN_OR_RETURN(prep.u, PrepareHinv(h, cols, order, options, &prep.report));
  prep.perm = std::move(order.perm);
  prep.pos = std::move(order.pos);
  return prep;
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
  SweepContext ctx{geo.traits, geo, cols, &order, &prep.u, block_size};
  const int64_t n_tiles = (rows + kRowTile - 1) / kRowTile;
#pragma omp parallel for schedule(dynamic)
  for (int64_t tile = 0; tile < n_tiles; ++tile) {
    const int64_t r0 = tile * kRowTile, n = std::min(kRowTile, rows - r0);
    std::vector<float> wt(static_cast<size_t>(n * cols));
    for (int64_t r = 0; r < n; ++r)
      for (int64_t p = 0; p < cols; ++p) wt[r * cols + p] = w[(r0 + r) * cols + order.perm[p]];
    std::vector<int8_t> codes(static_cast<size_t>(n * cols));
    std::vector<GroupFit> fits(static_cast<size_t>(n * geo.n_groups));
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
