// AWQ folding is exact: an f32 GLM-4 block (pre-norms, fused qkv with bias,
// GQA causal attention, fused gate|up SwiGLU) with the searched scales
// folded in computes the same output as the original, before quantization.
#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "quant/calib/activations.h"
#include "quant/calib/awq_layer.h"

namespace glmq::calib {
namespace {

std::vector<float> Randn(int64_t n, uint32_t seed, float sd, float mean = 0.f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(mean, sd);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// y[t, r] = sum_c w[r, c] x[t, c] (+ b[r]).
std::vector<float> Linear(const std::vector<float>& x, int64_t n, const std::vector<float>& w,
                          int64_t rows, int64_t cols, const std::vector<float>* b = nullptr) {
  std::vector<float> y(n * rows);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t r = 0; r < rows; ++r) {
      double s = b ? (*b)[r] : 0.0;
      for (int64_t c = 0; c < cols; ++c) s += double{w[r * cols + c]} * x[t * cols + c];
      y[t * rows + r] = static_cast<float>(s);
    }
  return y;
}

std::vector<float> RmsNorm(const std::vector<float>& x, int64_t n, int64_t dim,
                           const std::vector<float>& g) {
  std::vector<float> y(n * dim);
  for (int64_t t = 0; t < n; ++t) {
    double ss = 0;
    for (int64_t j = 0; j < dim; ++j) ss += double{x[t * dim + j]} * x[t * dim + j];
    const double inv = 1.0 / std::sqrt(ss / dim + 1e-5);
    for (int64_t j = 0; j < dim; ++j) y[t * dim + j] = static_cast<float>(x[t * dim + j] * inv * g[j]);
  }
  return y;
}

struct BlockIo {
  std::vector<float> out, qkv_in, ctx, ffn_in, down_in;
};

BlockIo Forward(const BlockDims& d, const BlockTensors& w, const std::vector<float>& x, int64_t n) {
  BlockIo io;
  const int64_t hd = d.head_dim, q_rows = d.n_heads * hd, kv_rows = d.n_kv_heads * hd;
  const int64_t qkv_rows = q_rows + 2 * kv_rows, group = d.n_heads / d.n_kv_heads;
  io.qkv_in = RmsNorm(x, n, d.hidden, w.attn_norm);
  std::vector<float> qkv = Linear(io.qkv_in, n, w.qkv, qkv_rows, d.hidden, &w.qkv_bias);
  io.ctx.assign(n * q_rows, 0.f);
  for (int64_t h = 0; h < d.n_heads; ++h) {
    const int64_t kv = h / group;
    for (int64_t t = 0; t < n; ++t) {
      std::vector<double> p(t + 1);
      double mx = -1e300, sum = 0;
      for (int64_t u = 0; u <= t; ++u) {
        double s = 0;
        for (int64_t j = 0; j < hd; ++j)
          s += double{qkv[t * qkv_rows + h * hd + j]} * qkv[u * qkv_rows + q_rows + kv * hd + j];
        p[u] = s / std::sqrt(double(hd));
        mx = std::max(mx, p[u]);
      }
      for (double& v : p) sum += (v = std::exp(v - mx));
      for (int64_t j = 0; j < hd; ++j) {
        double c = 0;
        for (int64_t u = 0; u <= t; ++u)
          c += p[u] / sum * qkv[u * qkv_rows + q_rows + kv_rows + kv * hd + j];
        io.ctx[t * q_rows + h * hd + j] = static_cast<float>(c);
      }
    }
  }
  std::vector<float> h1 = Linear(io.ctx, n, w.attn_output, d.hidden, q_rows);
  for (int64_t i = 0; i < n * d.hidden; ++i) h1[i] += x[i];
  io.ffn_in = RmsNorm(h1, n, d.hidden, w.ffn_norm);
  std::vector<float> gu = Linear(io.ffn_in, n, w.gate_up, 2 * d.ffn, d.hidden);
  io.down_in.resize(n * d.ffn);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t i = 0; i < d.ffn; ++i) {
      const float g = gu[t * 2 * d.ffn + i];
      io.down_in[t * d.ffn + i] = g / (1.f + std::exp(-g)) * gu[t * 2 * d.ffn + d.ffn + i];
    }
  io.out = Linear(io.down_in, n, w.down, d.hidden, d.ffn);
  for (int64_t i = 0; i < n * d.hidden; ++i) io.out[i] += h1[i];
  return io;
}

std::vector<float> MeanAbs(const std::vector<float>& x, int64_t n, int64_t cols) {
  std::vector<float> m(cols, 0.f);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t j = 0; j < cols; ++j) m[j] += std::fabs(x[t * cols + j]) / n;
  return m;
}

TEST(CalibAwqFold, FoldedBlockIsExactAndGqaScalesShared) {
  BlockDims d{64, 4, 2, 16, 96};
  const int64_t hd = d.head_dim, qkv_rows = (d.n_heads + 2 * d.n_kv_heads) * hd, n = 48;
  BlockTensors w;
  w.attn_norm = Randn(d.hidden, 1, 0.3f, 1.f);
  w.qkv = Randn(qkv_rows * d.hidden, 2, 0.15f);
  w.qkv_bias = Randn(qkv_rows, 3, 0.1f);
  w.attn_output = Randn(d.hidden * d.n_heads * hd, 4, 0.15f);
  w.ffn_norm = Randn(d.hidden, 5, 0.3f, 1.f);
  w.gate_up = Randn(2 * d.ffn * d.hidden, 6, 0.15f);
  w.down = Randn(d.hidden * d.ffn, 7, 0.1f);
  std::vector<float> x = Randn(n * d.hidden, 8, 1.f);
  for (int64_t t = 0; t < n; ++t) x[t * d.hidden + 9] *= 30.f;  // an outlier channel
  const BlockIo ref = Forward(d, w, x, n);

  auto model = [&](const std::vector<float>& a, int64_t cols) {
    return ActivationModel::FromSamples(a, n, cols).value();
  };
  ActivationModel qkv = model(ref.qkv_in, d.hidden), ctx = model(ref.ctx, d.n_heads * hd),
                  ffn = model(ref.ffn_in, d.hidden), down = model(ref.down_in, d.ffn);
  BlockInputs in{&qkv, &ctx, &ffn, &down, MeanAbs(ref.qkv_in, n, d.hidden),
                 MeanAbs(ref.ctx, n, d.n_heads * hd), MeanAbs(ref.ffn_in, n, d.hidden),
                 MeanAbs(ref.down_in, n, d.ffn)};
  QuantSpec spec{pb::ENCODING_Q4_SYM, 32, 0};
  BlockScales s = AwqSearchBlock(d, w, in, spec, {}).value();
  // GQA: the scale of context channel j of query head h is that of v channel
  // j of kv head h / group, for every h of the group.
  for (int64_t h = 0; h < d.n_heads; ++h)
    for (int64_t j = 0; j < hd; ++j)
      EXPECT_EQ(s.ctx[h * hd + j], s.v[(h / 2) * hd + j]);
  bool nontrivial = false;
  for (float v : s.qkv_in) nontrivial |= std::fabs(v - 1.f) > 0.05f;
  for (float v : s.down_in) nontrivial |= std::fabs(v - 1.f) > 0.05f;
  EXPECT_TRUE(nontrivial) << "the search picked alpha = 0 everywhere; the test proves nothing";

  BlockTensors folded = w;
  FoldBlock(d, s, &folded);
  const BlockIo got = Forward(d, folded, x, n);
  double max_ref = 0;
  for (float v : ref.out) max_ref = std::max<double>(max_ref, std::fabs(v));
  for (size_t i = 0; i < ref.out.size(); ++i)
    ASSERT_NEAR(got.out[i], ref.out[i], 1e-5 * max_ref) << i;
  // The folded weights did change (the fold is not a no-op).
  EXPECT_NE(folded.qkv, w.qkv);
  EXPECT_NE(folded.gate_up, w.gate_up);
}

}  // namespace
}  // namespace glmq::calib
