// The tiled attention with AVX2 + FMA vectors (this file is compiled with
// -mavx2 -mfma).
#include <immintrin.h>

#include "runtime/cpu/simd_exp.h"
#include "runtime/vision/attention_tiled.h"

namespace glmq::vision {
namespace {

struct Avx2 {
  using Vec = __m256;
  static constexpr int64_t kWidth = 8;
  static constexpr int kRows = 4, kVecs = 2;  // micro-tile: rows x vectors
  static Vec Zero() { return _mm256_setzero_ps(); }
  static Vec Set1(float a) { return _mm256_set1_ps(a); }
  static Vec Load(const float* p) { return _mm256_loadu_ps(p); }
  static void Store(float* p, Vec v) { _mm256_storeu_ps(p, v); }
  static Vec Fma(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
  static Vec Add(Vec a, Vec b) { return _mm256_add_ps(a, b); }
  static Vec Sub(Vec a, Vec b) { return _mm256_sub_ps(a, b); }
  static Vec Mul(Vec a, Vec b) { return _mm256_mul_ps(a, b); }
  static Vec Max(Vec a, Vec b) { return _mm256_max_ps(a, b); }
  static Vec Min(Vec a, Vec b) { return _mm256_min_ps(a, b); }
  static Vec Round(Vec a) {
    return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  // 2^n for integral n in [-126, 127].
  static Vec Pow2(Vec n) {
    const __m256i e = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
    return _mm256_castsi256_ps(_mm256_slli_epi32(e, 23));
  }
  static float ReduceAdd(Vec v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static float ReduceMax(Vec v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static Vec Exp(Vec x) { return cpu::ExpPoly<Avx2>(x); }
};

}  // namespace

namespace internal {
AttentionFn Avx2Attention() { return TiledAttention<Avx2>; }
}  // namespace internal

}  // namespace glmq::vision
