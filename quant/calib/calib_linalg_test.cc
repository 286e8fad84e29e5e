// GPTQ's blocked linear algebra: the in-place Cholesky and triangular inverse
// against their definitions, on sizes that cross every block boundary, and
// AWQ's QuadForm. (SubMatMul: quant/gemm_test.cc.)
#include <cmath>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"
#include "quant/calib/quad_form.h"
#include "quant/calib/linalg.h"

namespace glmq::calib {
namespace {

template <typename T>
std::vector<T> Uniform(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  std::vector<T> v(n);
  for (T& x : v) x = static_cast<T>(dist(rng));
  return v;
}

TEST(CalibQuadForm, QuadFormMatchesDefinition) {
  for (int64_t n : {1, 5, 32, 128, 131}) {
    const int64_t ld = n + 3;
    std::vector<double> g = Uniform<double>(n * ld, 7);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < i; ++j) g[i * ld + j] = g[j * ld + i];  // symmetric
    std::vector<float> d = Uniform<float>(n, 8);
    if (n > 4) d[3] = 0.f;
    double want = 0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) want += double{d[i]} * g[i * ld + j] * d[j];
    EXPECT_NEAR(QuadForm(g.data(), ld, d.data(), n), want, 1e-12 * n) << n;
  }
}

// The batched form gives each vector exactly QuadForm's value, whatever the
// batch size (full blocks and the remainder), with zeros in d and a partial
// last chunk (n = 131).
TEST(CalibQuadForm, QuadFormsEqualsQuadFormPerVector) {
  for (int64_t n : {5, 32, 128, 131}) {
    const int64_t ld = n + 3;
    std::vector<double> g = Uniform<double>(n * ld, 9);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < i; ++j) g[i * ld + j] = g[j * ld + i];
    for (int64_t k : {1, 2, 3, 4, 5, 9, 33}) {
      std::vector<float> d = Uniform<float>(k * n, 10 + k);
      for (int64_t c = 0; c < k; ++c) d[c * n + (c * 7) % n] = 0.f;
      if (k > 2) std::fill(d.begin() + n, d.begin() + 2 * n, 0.f);  // an all-zero vector
      std::vector<double> e(k, -1.0);
      QuadForms(g.data(), ld, d.data(), n, k, e.data());
      for (int64_t c = 0; c < k; ++c)
        EXPECT_EQ(e[c], QuadForm(g.data(), ld, d.data() + c * n, n)) << n << " " << k << " " << c;
    }
  }
}

// A well-conditioned SPD matrix: G G^T / k + I.
std::vector<double> Spd(int64_t n, uint32_t seed) {
  const int64_t k = n + 10;
  std::vector<double> g = Uniform<double>(n * k, seed), h(n * n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t p = 0; p < k; ++p) s += g[i * k + p] * g[j * k + p];
      h[i * n + j] = s / k + (i == j ? 1.0 : 0.0);
    }
  return h;
}

TEST(CalibLinalg, BlockedCholeskyAndInverse) {
  const int64_t n = 301;  // > 2 panels of 128, > one k block of 256
  const std::vector<double> h = Spd(n, 4);
  std::vector<double> a = h;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j) a[i * n + j] = -7.0;  // must stay untouched
  ASSERT_TRUE(CholeskyLowerInPlace(a.data(), n).ok());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      if (j > i) {
        ASSERT_EQ(a[i * n + j], -7.0);
        continue;
      }
      double s = 0;  // (L L^T)[i][j]
      for (int64_t p = 0; p <= j; ++p) s += a[i * n + p] * a[j * n + p];
      ASSERT_NEAR(s, h[i * n + j], 1e-12) << i << "," << j;
    }
  std::vector<double> l = a;
  InvertLowerInPlace(a.data(), n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      if (j > i) {
        ASSERT_EQ(a[i * n + j], 0.0);
        continue;
      }
      double s = 0;  // (L^-1 L)[i][j]
      for (int64_t p = j; p <= i; ++p) s += a[i * n + p] * l[p * n + j];
      ASSERT_NEAR(s, i == j ? 1.0 : 0.0, 1e-12) << i << "," << j;
    }
  std::vector<double> bad = h;
  bad[200 * n + 200] = -1.0;
  absl::Status s = CholeskyLowerInPlace(bad.data(), n);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("pivot 200"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace glmq::calib
