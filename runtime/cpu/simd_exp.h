// exp(x) over a vector-traits struct V for the SIMD attention kernels, and the
// softmax row steps built on it (RowMax, ExpRow):
// Cephes' expf (x = n ln2 + r with n = round(x log2 e) and ln2 in two parts,
// a degree-6 polynomial in r, 2^n through the exponent bits). Within 2 ulp
// of std::exp for x in [-87, 88]; inputs are clamped to that range so 2^n
// stays a normal float (the attention exponentiates x <= 0 only, where
// exp(-87) ~ 1.6e-38 stands for 0).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace glmq::cpu {
namespace {

template <class V>
inline typename V::Vec ExpPoly(typename V::Vec x) {
  x = V::Min(V::Max(x, V::Set1(-87.0f)), V::Set1(88.0f));
  const typename V::Vec n = V::Round(V::Mul(x, V::Set1(1.44269504088896341f)));
  typename V::Vec r = V::Fma(n, V::Set1(-0.693359375f), x);
  r = V::Fma(n, V::Set1(2.12194440e-4f), r);
  typename V::Vec p = V::Set1(1.9875691500e-4f);
  p = V::Fma(p, r, V::Set1(1.3981999507e-3f));
  p = V::Fma(p, r, V::Set1(8.3334519073e-3f));
  p = V::Fma(p, r, V::Set1(4.1665795894e-2f));
  p = V::Fma(p, r, V::Set1(1.6666665459e-1f));
  p = V::Fma(p, r, V::Set1(5.0000001201e-1f));
  const typename V::Vec y = V::Fma(p, V::Mul(r, r), V::Add(r, V::Set1(1.0f)));
  return V::Mul(y, V::Pow2(n));
}

// max of s[0 .. n).
template <class V>
inline float RowMax(const float* s, int64_t n) {
  typename V::Vec m = V::Set1(-INFINITY);
  int64_t j = 0;
  for (; j + V::kWidth <= n; j += V::kWidth) m = V::Max(m, V::Load(s + j));
  float r = V::ReduceMax(m);
  for (; j < n; ++j) r = std::max(r, s[j]);
  return r;
}

// s[j] = exp(s[j] - mx) for j < n; returns their sum.
template <class V>
inline float ExpRow(float* s, int64_t n, float mx) {
  const typename V::Vec m = V::Set1(mx);
  typename V::Vec sum = V::Zero();
  int64_t j = 0;
  for (; j + V::kWidth <= n; j += V::kWidth) {
    const typename V::Vec e = V::Exp(V::Sub(V::Load(s + j), m));
    V::Store(s + j, e);
    sum = V::Add(sum, e);
  }
  float r = V::ReduceAdd(sum);
  for (; j < n; ++j) r += (s[j] = std::exp(s[j] - mx));
  return r;
}

}  // namespace
}  // namespace glmq::cpu
