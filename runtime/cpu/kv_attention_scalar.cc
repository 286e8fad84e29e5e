// The tiled KV attention with one-float "vectors": the portable build, the
// GLMQ_SIMD=scalar level and head sizes that are not a multiple of 16.
#include <algorithm>
#include <cmath>

#include "core/dtype.h"
#include "runtime/cpu/kv_attention_tiled.h"

namespace glmq::cpu {
namespace {

struct Scalar {
  using Vec = float;
  static constexpr int64_t kWidth = 1;
  static constexpr int kRows = 4, kVecs = 4;      // micro-tiles: rows x vectors, of S = q K^T
  static constexpr int kPvRows = 4, kPvVecs = 4;  // and of O += P V
  static Vec Zero() { return 0.f; }
  static Vec Set1(float a) { return a; }
  static Vec Load(const float* p) { return *p; }
  static Vec LoadBf16(const uint16_t* p) { return Bf16ToF32(*p); }
  static Vec LoadF16(const uint16_t* p) { return F16ToF32(*p); }
  static Vec LoadI8(const int8_t* p) { return static_cast<float>(*p); }
  static void Store(float* p, Vec v) { *p = v; }
  static Vec Fma(Vec a, Vec b, Vec c) { return a * b + c; }
  static Vec Mul(Vec a, Vec b) { return a * b; }
  static Vec Add(Vec a, Vec b) { return a + b; }
  static Vec Sub(Vec a, Vec b) { return a - b; }
  static Vec Max(Vec a, Vec b) { return std::max(a, b); }
  static Vec Round(Vec a) { return std::nearbyint(a); }
  static float ReduceAdd(Vec v) { return v; }
  static float ReduceMax(Vec v) { return v; }
  static Vec Exp(Vec x) { return std::exp(x); }
};

}  // namespace

namespace internal {
KvAttentionFn ScalarKvAttention() { return TiledKvAttention<Scalar>; }
}  // namespace internal

}  // namespace glmq::cpu
