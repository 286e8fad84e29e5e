// Calibrated quantization under outlier channels (specs/calibration.md):
// GPTQ's static groups with activation order and its relative dampening,
// and imatrix's equalisation, on synthetic layers built like the
// glm4-tiny-chat-outlier fixture (a channel 64x larger, its weight column
// 64x smaller).
#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "quant/calib/activations.h"
#include "quant/calib/awq.h"
#include "quant/calib/awq_layer.h"
#include "quant/calib/gptq.h"
#include "quant/calib/imatrix.h"
#include "quant/calib/methods.h"
#include "quant/quantize.h"
#include "quant/reference.h"
#include "schema/encodings.h"

namespace glmq::calib {
namespace {

std::vector<float> Normal(int64_t n, uint32_t seed, float sd = 1.f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.f, sd);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// x [n, cols]: a shared low-rank part plus noise (correlated channels).
std::vector<float> Inputs(int64_t n, int64_t cols, uint32_t seed) {
  std::vector<float> base = Normal(n * 2, seed), mix = Normal(2 * cols, seed + 1),
                     x = Normal(n * cols, seed + 2, 0.5f);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t j = 0; j < cols; ++j)
      for (int k = 0; k < 2; ++k) x[t * cols + j] += base[t * 2 + k] * mix[k * cols + j];
  return x;
}

std::vector<double> Gram(const std::vector<float>& x, int64_t n, int64_t cols) {
  std::vector<double> g(cols * cols, 0.0);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t i = 0; i < cols; ++i)
      for (int64_t j = 0; j < cols; ++j)
        g[i * cols + j] += 2.0 * x[t * cols + i] * x[t * cols + j] / n;
  return g;
}

std::vector<UnpackedGroup> Headers(const GroupGeometry& geo, const std::vector<uint8_t>& bytes,
                                   int64_t rows) {
  std::vector<UnpackedGroup> h;
  std::vector<int8_t> q(geo.g);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t gi = 0; gi < geo.n_groups; ++gi)
      h.push_back(
          UnpackGroup(geo, bytes.data() + r * geo.row_bytes + gi * geo.group_bytes, q.data()));
  return h;
}

// sum over rows and sample tokens of (x . (w_r - deq_r))^2 / n.
double OutputError(const std::vector<float>& x, int64_t n, int64_t cols,
                   const std::vector<float>& w, const std::vector<float>& deq, int64_t rows) {
  double e = 0;
  for (int64_t t = 0; t < n; ++t)
    for (int64_t r = 0; r < rows; ++r) {
      double s = 0;
      for (int64_t j = 0; j < cols; ++j)
        s += x[t * cols + j] * (static_cast<double>(w[r * cols + j]) - deq[r * cols + j]);
      e += s * s;
    }
  return e / n;
}

std::vector<float> Decode(const GroupGeometry& geo, const std::vector<uint8_t>& bytes, int64_t rows,
                          int64_t cols) {
  std::vector<float> out(rows * cols);
  for (int64_t r = 0; r < rows; ++r)
    DequantizeRowRef(geo, bytes.data() + r * geo.row_bytes, cols, &out[r * cols]);
  return out;
}

// imatrix's weighting: importance times sqrt(sigma2_row + w^2).
QuantWeighting ImatrixWeighting(const float* importance) {
  QuantWeighting w;
  w.importance = importance;
  w.magnitude = true;
  return w;
}

constexpr int64_t kRows = 32, kCols = 256, kTokens = 1024;
const QuantSpec kQ4{pb::ENCODING_Q4_SYM, 64};

// Static groups: every stored header is the one fitted on the original
// weights (before reordering and error feedback), whatever the order.
TEST(CalibGptqStatic, GroupScalesAreThoseOfTheOriginalWeights) {
  std::vector<float> x = Inputs(kTokens, kCols, 1);
  for (int64_t t = 0; t < kTokens; ++t) x[t * kCols + 70] *= 30.f;  // act order moves it first
  const std::vector<double> h = Gram(x, kTokens, kCols);
  const std::vector<float> w = Normal(kRows * kCols, 2, 0.05f);
  const GroupGeometry geo = GetGroupGeometry(kQ4.encoding, kQ4.group_size, kCols).value();
  // Plain absmax RTN of the original rows, and imatrix's search with diag H.
  std::vector<uint8_t> rtn(kRows * geo.row_bytes), searched(kRows * geo.row_bytes);
  for (int64_t r = 0; r < kRows; ++r)
    QuantizeRowRef(geo, &w[r * kCols], kCols, rtn.data() + r * geo.row_bytes);
  std::vector<float> diag(kCols);
  for (int64_t j = 0; j < kCols; ++j) diag[j] = static_cast<float>(h[j * kCols + j]);
  const QuantWeighting weighting = ImatrixWeighting(diag.data());
  ASSERT_TRUE(
      QuantizeMatrixWeighted(w.data(), kRows, kCols, kQ4, weighting, searched.data(), nullptr)
          .ok());
  for (auto [groups, want] :
       {std::pair{GptqGroups::kStatic, &rtn}, std::pair{GptqGroups::kStaticSearched, &searched}}) {
    for (bool act_order : {false, true}) {
      GptqOptions opt;
      opt.groups = groups;
      opt.act_order = act_order;
      std::vector<uint8_t> got(kRows * geo.row_bytes);
      ASSERT_TRUE(GptqQuantize(w.data(), kRows, kCols, h, kQ4, opt, got.data()).ok());
      const auto hg = Headers(geo, got, kRows), hw = Headers(geo, *want, kRows);
      for (size_t i = 0; i < hg.size(); ++i)
        ASSERT_EQ(hg[i].scale, hw[i].scale) << "group " << i << " act_order " << act_order;
      EXPECT_NE(got, *want);  // the codes did get GPTQ's error feedback
    }
  }
}

// With a diagonal H there is no error feedback: whatever order the columns
// are quantized in, un-reordering must give back the plain path's codes,
// i.e. exactly imatrix's bytes with importance diag(H).
TEST(CalibGptqStatic, ReorderedSweepOfADiagonalHessianIsImatrix) {
  std::vector<double> h(kCols * kCols, 0.0);
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> u(0.1, 10.0);
  for (int64_t j = 0; j < kCols; ++j) h[j * kCols + j] = u(rng);  // distinct: a real permutation
  const std::vector<float> w = Normal(kRows * kCols, 4, 0.05f);
  const GroupGeometry geo = GetGroupGeometry(kQ4.encoding, kQ4.group_size, kCols).value();
  std::vector<float> diag(kCols);
  for (int64_t j = 0; j < kCols; ++j) diag[j] = static_cast<float>(h[j * kCols + j]);
  std::vector<uint8_t> want(kRows * geo.row_bytes);
  ASSERT_TRUE(QuantizeMatrixWeighted(w.data(), kRows, kCols, kQ4, ImatrixWeighting(diag.data()),
                                     want.data(), nullptr)
                  .ok());
  for (bool act_order : {false, true}) {
    GptqOptions opt;
    opt.act_order = act_order;
    std::vector<uint8_t> got(kRows * geo.row_bytes);
    ASSERT_TRUE(GptqQuantize(w.data(), kRows, kCols, h, kQ4, opt, got.data()).ok());
    EXPECT_EQ(got, want) << "act_order " << act_order;
  }
}

// Equal diagonals: the activation order is the natural one (stable sort),
// so act_order changes nothing even with correlated channels.
TEST(CalibGptqStatic, EqualDiagonalsKeepThePlainOrder) {
  const std::vector<float> x = Inputs(kTokens, kCols, 5);
  std::vector<double> h = Gram(x, kTokens, kCols);
  // Normalise to the correlation matrix: every H_jj = 1.
  std::vector<double> d(kCols);
  for (int64_t j = 0; j < kCols; ++j) d[j] = 1.0 / std::sqrt(h[j * kCols + j]);
  for (int64_t i = 0; i < kCols; ++i)
    for (int64_t j = 0; j < kCols; ++j) h[i * kCols + j] *= d[i] * d[j];
  for (int64_t j = 0; j < kCols; ++j) h[j * kCols + j] = 1.0;
  const std::vector<float> w = Normal(kRows * kCols, 6, 0.05f);
  const GroupGeometry geo = GetGroupGeometry(kQ4.encoding, kQ4.group_size, kCols).value();
  for (GptqGroups groups : {GptqGroups::kLazy, GptqGroups::kStatic, GptqGroups::kStaticSearched}) {
    std::vector<uint8_t> plain(kRows * geo.row_bytes), ordered(kRows * geo.row_bytes);
    GptqOptions opt;
    opt.groups = groups;
    opt.act_order = false;
    ASSERT_TRUE(GptqQuantize(w.data(), kRows, kCols, h, kQ4, opt, plain.data()).ok());
    opt.act_order = true;
    ASSERT_TRUE(GptqQuantize(w.data(), kRows, kCols, h, kQ4, opt, ordered.data()).ok());
    EXPECT_EQ(plain, ordered) << static_cast<int>(groups);
  }
}

// Relative dampening: channels uncorrelated with a group do not change how
// it is quantized, however large their H_jj (an outlier channel); with
// GPTQ's mean-diagonal dampening they do.
TEST(CalibGptqDamp, RelativeDampingIgnoresOtherChannelsScale) {
  const int64_t half = kCols / 2;
  const std::vector<float> x = Inputs(kTokens, half, 7);
  const std::vector<double> g = Gram(x, kTokens, half);
  const std::vector<float> w = Normal(kRows * kCols, 8, 0.05f);
  const GroupGeometry geo = GetGroupGeometry(kQ4.encoding, kQ4.group_size, kCols).value();
  auto run = [&](GptqDamp mode, double outlier) {
    std::vector<double> h(kCols * kCols, 0.0);  // blockdiag(G, G): independent halves
    for (int64_t i = 0; i < half; ++i)
      for (int64_t j = 0; j < half; ++j) {
        h[i * kCols + j] = g[i * half + j];
        h[(half + i) * kCols + half + j] = g[i * half + j] * (i == 0 && j == 0 ? outlier : 1.0);
      }
    GptqOptions opt;
    opt.damp_mode = mode;
    std::vector<uint8_t> out(kRows * geo.row_bytes);
    EXPECT_TRUE(GptqQuantize(w.data(), kRows, kCols, h, kQ4, opt, out.data()).ok());
    std::vector<uint8_t> first_half;  // the groups of columns [0, half)
    for (int64_t r = 0; r < kRows; ++r)
      first_half.insert(first_half.end(), out.begin() + r * geo.row_bytes,
                        out.begin() + r * geo.row_bytes + geo.row_bytes / 2);
    return first_half;
  };
  EXPECT_EQ(run(GptqDamp::kRelative, 1.0), run(GptqDamp::kRelative, 4096.0));
  EXPECT_NE(run(GptqDamp::kMeanDiag, 1.0), run(GptqDamp::kMeanDiag, 4096.0));
}

// The outlier fixture's construction: channels 17, 101, 188 and 230 enter
// 64x larger, their weight columns are 64x smaller, so the layer computes
// the same function.
constexpr int64_t kOutliers[] = {17, 101, 188, 230};
struct OutlierLayer {
  std::vector<float> x, w;  // [kTokens, kCols], [kRows, kCols]
  std::vector<double> e_x2;
  std::vector<float> mean_abs;
};
OutlierLayer MakeOutlierLayer(float factor) {
  OutlierLayer l;
  l.x = Inputs(kTokens, kCols, 9);
  l.w = Normal(kRows * kCols, 10, 0.05f);
  for (int64_t c : kOutliers) {
    for (int64_t t = 0; t < kTokens; ++t) l.x[t * kCols + c] *= factor;
    for (int64_t r = 0; r < kRows; ++r) l.w[r * kCols + c] /= factor;
  }
  l.e_x2.assign(kCols, 0.0);
  l.mean_abs.assign(kCols, 0.f);
  for (int64_t t = 0; t < kTokens; ++t)
    for (int64_t j = 0; j < kCols; ++j) {
      l.e_x2[j] += double(l.x[t * kCols + j]) * l.x[t * kCols + j] / kTokens;
      l.mean_abs[j] += std::fabs(l.x[t * kCols + j]) / kTokens;
    }
  return l;
}

// imatrix's output error after quantizing w (its columns scaled by s, the
// input divided by s; s empty = none) with the weighted search.
double ImatrixOutputError(const OutlierLayer& l, const std::vector<float>& s) {
  std::vector<float> ws = l.w;
  std::vector<double> sum_x2(kCols);
  for (int64_t j = 0; j < kCols; ++j) {
    const double sj = s.empty() ? 1.0 : s[j];
    for (int64_t r = 0; r < kRows; ++r) ws[r * kCols + j] *= static_cast<float>(sj);
    sum_x2[j] = l.e_x2[j] * kTokens / (sj * sj);
  }
  const std::vector<float> imp = ImatrixImportance(sum_x2, kTokens).value();
  const GroupGeometry geo = GetGroupGeometry(kQ4.encoding, kQ4.group_size, kCols).value();
  std::vector<uint8_t> bytes(kRows * geo.row_bytes);
  EXPECT_TRUE(QuantizeMatrixWeighted(ws.data(), kRows, kCols, kQ4, ImatrixWeighting(imp.data()),
                                     bytes.data(), nullptr)
                  .ok());
  std::vector<float> deq = Decode(geo, bytes, kRows, kCols);
  for (int64_t j = 0; j < kCols; ++j)
    for (int64_t r = 0; r < kRows; ++r) deq[r * kCols + j] /= s.empty() ? 1.f : s[j];
  return OutputError(l.x, kTokens, kCols, l.w, deq, kRows);
}

// Why imatrix alone gained only ~3x on the outlier fixture: no per-group
// scale serves a column 64x smaller than its group, however the search
// weights its error; it rounds to zero (the channel is lost in every row).
// Equalising first (scales searched on E[x^2] alone, folded into the input)
// keeps it.
TEST(CalibImatrixOutlier, EqualisationKeepsAHighActivationColumn) {
  const OutlierLayer l = MakeOutlierLayer(64.f);
  const GroupGeometry geo = GetGroupGeometry(kQ4.encoding, kQ4.group_size, kCols).value();
  std::vector<uint8_t> bytes(kRows * geo.row_bytes);
  const std::vector<float> imp = [&] {
    std::vector<double> s(kCols);
    for (int64_t j = 0; j < kCols; ++j) s[j] = l.e_x2[j] * kTokens;
    return ImatrixImportance(s, kTokens).value();
  }();
  ASSERT_TRUE(QuantizeMatrixWeighted(l.w.data(), kRows, kCols, kQ4, ImatrixWeighting(imp.data()),
                                     bytes.data(), nullptr)
                  .ok());
  const std::vector<float> deq = Decode(geo, bytes, kRows, kCols);
  for (int64_t c : kOutliers)
    for (int64_t r = 0; r < kRows; ++r) EXPECT_EQ(deq[r * kCols + c], 0.f) << r << ", " << c;

  const AwqOptions opt = ImatrixPlanOptions({});
  std::vector<double> d = l.e_x2;
  const ActivationModel act = ActivationModel::FromDiagonal(d).value();
  const AwqScaleResult res =
      AwqSearchScale(l.w.data(), kRows, kCols, act, l.mean_abs, kQ4, opt).value();
  EXPECT_GT(res.alpha, 0);
  EXPECT_LT(res.loss, 0.5 * res.loss_rtn);
  const double plain = ImatrixOutputError(l, {}), equalised = ImatrixOutputError(l, res.scale);
  EXPECT_LT(equalised, 0.75 * plain) << "plain " << plain << " equalised " << equalised;
}

// Without outliers the diagonal loss's small predicted gains are not taken
// (min_gain): alpha = 0, every scale exactly 1, so imatrix is unchanged.
TEST(CalibImatrixOutlier, NoEqualisationWithoutOutliers) {
  const OutlierLayer l = MakeOutlierLayer(1.f);
  const AwqOptions opt = ImatrixPlanOptions({});
  const ActivationModel act = ActivationModel::FromDiagonal(l.e_x2).value();
  const AwqScaleResult res =
      AwqSearchScale(l.w.data(), kRows, kCols, act, l.mean_abs, kQ4, opt).value();
  EXPECT_EQ(res.alpha, 0);
  EXPECT_TRUE((TensorFold{res.scale, res.scale}.identity()));
  EXPECT_FALSE((TensorFold{{1.f, 2.f}, {}}.identity()));
}

// The runtime rounds activations to int8 per 32 channels: one channel 64x
// larger sets the step of its whole block.
TEST(CalibImatrixOutlier, ActivationRoundingErrorFollowsTheBlockMax) {
  std::vector<float> e_x2(64, 1.f), w(2 * 64, 1.f);
  const double unit = 1.0 / (127.0 * 127.0 * 12.0);
  EXPECT_NEAR(ActivationRoundingError(w.data(), 2, 64, e_x2, 32), 2 * 64 * unit, 1e-15);
  e_x2[5] = 4096.f;
  EXPECT_NEAR(ActivationRoundingError(w.data(), 2, 64, e_x2, 32), 2 * (32 * 4096 + 32) * unit,
              1e-12);
  w[0] = 0.f;  // row 0 without channel 0: one fewer w^2 in block 0
  EXPECT_NEAR(ActivationRoundingError(w.data(), 2, 64, e_x2, 32),
              (31 * 4096 + 32 + 32 * 4096 + 32) * unit, 1e-12);
}

TEST(CalibActivations, DiagonalModel) {
  const ActivationModel m = ActivationModel::FromDiagonal({1.0, 4.0, 9.0}).value();
  const float d[3] = {1.f, 0.5f, 2.f};
  EXPECT_DOUBLE_EQ(m.GroupError(d, 0, 3), 1.0 + 1.0 + 36.0);
  EXPECT_DOUBLE_EQ(m.GroupError(d + 1, 1, 2), 1.0 + 36.0);
  EXPECT_DOUBLE_EQ(m.RowsError(d, 1), 38.0);
  const ActivationModel s = m.Scaled({1.f, 2.f, 3.f});
  EXPECT_EQ(s.Diagonal(), (std::vector<float>{1.f, 1.f, 1.f}));
  EXPECT_FALSE(ActivationModel::FromDiagonal({1.0, -1.0}).ok());
  EXPECT_FALSE(ActivationModel::FromDiagonal({}).ok());
}

}  // namespace
}  // namespace glmq::calib
