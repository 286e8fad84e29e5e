// The tiled attention with AVX-512 vectors (this file is compiled with
// -mavx512f -mavx512dq -mavx2 -mfma).
#include <immintrin.h>

#include "runtime/cpu/simd_exp.h"
#include "runtime/vision/attention_tiled.h"

namespace glmq::vision {
namespace {

struct Avx512 {
  using Vec = __m512;
  static constexpr int64_t kWidth = 16;
  static constexpr int kRows = 6, kVecs = 4;  // micro-tile: rows x vectors
  static Vec Zero() { return _mm512_setzero_ps(); }
  static Vec Set1(float a) { return _mm512_set1_ps(a); }
  static Vec Load(const float* p) { return _mm512_loadu_ps(p); }
  static void Store(float* p, Vec v) { _mm512_storeu_ps(p, v); }
  static Vec Fma(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
  static Vec Add(Vec a, Vec b) { return _mm512_add_ps(a, b); }
  static Vec Sub(Vec a, Vec b) { return _mm512_sub_ps(a, b); }
  static Vec Mul(Vec a, Vec b) { return _mm512_mul_ps(a, b); }
  static Vec Max(Vec a, Vec b) { return _mm512_max_ps(a, b); }
  static Vec Min(Vec a, Vec b) { return _mm512_min_ps(a, b); }
  static Vec Round(Vec a) {
    return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  static Vec Pow2(Vec n) {
    const __m512i e = _mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127));
    return _mm512_castsi512_ps(_mm512_slli_epi32(e, 23));
  }
  static float ReduceAdd(Vec v) { return _mm512_reduce_add_ps(v); }
  static float ReduceMax(Vec v) { return _mm512_reduce_max_ps(v); }
  static Vec Exp(Vec x) { return cpu::ExpPoly<Avx512>(x); }
};

}  // namespace

namespace internal {
AttentionFn Avx512Attention() { return TiledAttention<Avx512>; }
}  // namespace internal

}  // namespace glmq::vision
