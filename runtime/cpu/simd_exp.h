// exp(x) over a vector-traits struct V for the SIMD attention kernels:
// Cephes' expf (x = n ln2 + r with n = round(x log2 e) and ln2 in two parts,
// a degree-6 polynomial in r, 2^n through the exponent bits). Within 2 ulp
// of std::exp for x in [-87, 88]; inputs are clamped to that range so 2^n
// stays a normal float (the attention exponentiates x <= 0 only, where
// exp(-87) ~ 1.6e-38 stands for 0).
#pragma once

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

}  // namespace
}  // namespace glmq::cpu
