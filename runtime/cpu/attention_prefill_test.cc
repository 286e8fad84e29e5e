// PrefillAttention at every SIMD level the CPU has against a plain causal
// softmax in f64 over the same (converted) cache: GQA groups of 1, 2 and 16
// heads, head sizes that leave vector tails, a chunk after earlier tokens
// (pos0 > 0), query blocks and key blocks of 64 crossed, f32 / f16 / bf16
// caches. Budget: online softmax, f32 sums and exp within 2 ulp give
// |got - ref| <= 2e-5 max|v| + 1e-6.
#include "runtime/cpu/attention_prefill.h"

#include <cmath>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "gtest/gtest.h"

namespace glmq::cpu {
namespace {

struct Case {
  int64_t n_heads, n_kv_heads, head_dim, pos0, n_tokens;
};

void Check(const Case& c, DType type, SimdLevel level, int threads) {
  SCOPED_TRACE(testing::Message() << SimdLevelName(level) << " " << Traits(type).name << " heads "
                                  << c.n_heads << "/" << c.n_kv_heads << " hd " << c.head_dim
                                  << " pos0 " << c.pos0 << " n " << c.n_tokens << " threads "
                                  << threads);
  const AttentionShape s{c.n_heads, c.n_kv_heads, c.head_dim};
  const int64_t ctx = c.pos0 + c.n_tokens + 3, hd = c.head_dim;
  std::mt19937 rng(static_cast<uint32_t>(c.n_heads * 131 + c.pos0 * 7 + c.n_tokens));
  std::normal_distribution<float> nd(0.f, 1.f);
  const int64_t kv_values = c.n_kv_heads * ctx * hd;
  std::vector<float> kf(kv_values), vf(kv_values);
  for (auto& x : kf) x = 2.f * nd(rng);
  for (auto& x : vf) x = nd(rng);
  std::vector<uint8_t> kc(kv_values * DTypeSize(type)), vc(kc.size());
  ConvertFromF32(type, kf.data(), kc.data(), kv_values);
  ConvertFromF32(type, vf.data(), vc.data(), kv_values);
  ConvertToF32(type, kc.data(), kf.data(), kv_values);  // what the kernel reads
  ConvertToF32(type, vc.data(), vf.data(), kv_values);
  const int64_t q_stride = c.n_heads * hd + 5;
  std::vector<float> q(c.n_tokens * q_stride);
  for (auto& x : q) x = nd(rng);
  std::vector<float> out(c.n_tokens * c.n_heads * hd, NAN);
  PrefillAttention(level, q.data(), q_stride, c.n_tokens, s, c.pos0,
                   KvCacheView{kc.data(), vc.data(), type, ctx}, out.data(), threads);
  double vmax = 0;
  for (float x : vf) vmax = std::max(vmax, std::fabs(double{x}));
  const int64_t group = c.n_heads / c.n_kv_heads;
  std::vector<double> p(ctx);
  for (int64_t t = 0; t < c.n_tokens; ++t)
    for (int64_t h = 0; h < c.n_heads; ++h) {
      const int64_t g = h / group, n_pos = c.pos0 + t + 1;
      const float* qh = q.data() + t * q_stride + h * hd;
      double mx = -INFINITY, sum = 0;
      for (int64_t j = 0; j < n_pos; ++j) {
        double d = 0;
        for (int64_t e = 0; e < hd; ++e) d += double{qh[e]} * kf[(g * ctx + j) * hd + e];
        p[j] = d / std::sqrt(double(hd));
        mx = std::max(mx, p[j]);
      }
      for (int64_t j = 0; j < n_pos; ++j) sum += p[j] = std::exp(p[j] - mx);
      for (int64_t e = 0; e < hd; ++e) {
        double o = 0;
        for (int64_t j = 0; j < n_pos; ++j) o += p[j] * vf[(g * ctx + j) * hd + e];
        ASSERT_NEAR(out[(t * c.n_heads + h) * hd + e], o / sum, 2e-5 * vmax + 1e-6)
            << "t " << t << " h " << h << " d " << e;
      }
    }
}

TEST(PrefillAttention, MatchesPlainSoftmax) {
  const Case cases[] = {{4, 2, 16, 0, 2},   {4, 2, 16, 0, 70},  {32, 2, 128, 0, 9},
                        {32, 2, 128, 61, 7}, {3, 3, 5, 0, 130}, {2, 1, 24, 100, 66},
                        {16, 16, 40, 3, 33}};
  std::vector<SimdLevel> levels = {SimdLevel::kScalar};
  const CpuFeatures& f = GetCpuFeatures();
  if (f.avx2) levels.push_back(SimdLevel::kAvx2);
  if (f.avx512) levels.push_back(SimdLevel::kAvx512);
  for (SimdLevel level : levels)
    for (DType type : {DType::kF32, DType::kF16, DType::kBF16})
      for (const Case& c : cases) Check(c, type, level, c.n_tokens % 2 ? 2 : 3);
}

}  // namespace
}  // namespace glmq::cpu
