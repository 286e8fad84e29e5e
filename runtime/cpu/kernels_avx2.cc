// AVX2 + FMA + F16C kernels (this file is compiled with -mavx2 -mfma -mf16c).
#include <immintrin.h>

#include "runtime/cpu/simd_impl.h"

namespace glmq::cpu {
namespace {

struct Avx2 {
  using Vec = __m256;
  static constexpr SimdLevel kLevel = SimdLevel::kAvx2;
  static constexpr int64_t kWidth = 8;
  static constexpr int kGemvRows = 8;  // decode GEMV row streams (16 ymm: one accumulator each)
  // Prefill micro-kernel rows: 2 rows x 4 tokens = 8 accumulators + 4 activations + 1 weight of 16 ymm registers.
  static constexpr int kGemmRows = 2;
  static Vec Zero() { return _mm256_setzero_ps(); }
  static Vec Set1(float a) { return _mm256_set1_ps(a); }
  static Vec Load(const float* p) { return _mm256_loadu_ps(p); }
  static void Store(float* p, Vec v) { _mm256_storeu_ps(p, v); }
  static Vec LoadBf16(const uint16_t* p) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  static Vec LoadF16(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static Vec Fma(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
  static Vec Add(Vec a, Vec b) { return _mm256_add_ps(a, b); }
  static float Sum(Vec v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
};

}  // namespace

const DenseKernels& Avx2Kernels() {
  static const DenseKernels k{SimdLevel::kAvx2, MatMulRowsT<Avx2>, DotT<Avx2>, AxpyT<Avx2>};
  return k;
}

}  // namespace glmq::cpu
