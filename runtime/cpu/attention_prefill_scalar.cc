// PrefillAttention with one-float "vectors": the GLMQ_SIMD=scalar level.
#include <algorithm>
#include <cmath>

#include "runtime/cpu/attention_prefill_impl.h"

namespace glmq::cpu {
namespace {

struct Scalar {
  using Vec = float;
  static constexpr int64_t kWidth = 1;
  static constexpr int kRows = 4, kVecs = 4;  // micro-tile: rows x vectors
  static Vec Zero() { return 0.f; }
  static Vec Set1(float a) { return a; }
  static Vec Load(const float* p) { return *p; }
  static void Store(float* p, Vec v) { *p = v; }
  static Vec Fma(Vec a, Vec b, Vec c) { return a * b + c; }
  static Vec Add(Vec a, Vec b) { return a + b; }
  static Vec Sub(Vec a, Vec b) { return a - b; }
  static Vec Max(Vec a, Vec b) { return std::max(a, b); }
  static float ReduceAdd(Vec v) { return v; }
  static float ReduceMax(Vec v) { return v; }
  static Vec Exp(Vec x) { return std::exp(x); }
};

}  // namespace

namespace internal {
PrefillAttentionFn ScalarPrefillAttention() { return TiledPrefillAttention<Scalar>; }
}  // namespace internal

}  // namespace glmq::cpu
