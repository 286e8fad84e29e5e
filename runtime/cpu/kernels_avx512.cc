// AVX-512 (F, BW) kernels (this file is compiled with -mavx512f -mavx512bw
// -mavx512vl -mavx512dq -mfma -mf16c).
#include <immintrin.h>

#include "runtime/cpu/simd_impl.h"

namespace glmq::cpu {
namespace {

struct Avx512 {
  using Vec = __m512;
  static constexpr SimdLevel kLevel = SimdLevel::kAvx512;
  static constexpr int64_t kWidth = 16;
  static constexpr int kGemvRows = 12;  // decode GEMV row streams (BM_Gemv: 12 > 8 > 4)
  // Prefill micro-kernel rows: 4 rows x 4 tokens = 16 accumulators + 4 activations + 1 weight of 32 zmm registers.
  static constexpr int kGemmRows = 4;
  static Vec Zero() { return _mm512_setzero_ps(); }
  static Vec Set1(float a) { return _mm512_set1_ps(a); }
  static Vec Load(const float* p) { return _mm512_loadu_ps(p); }
  static void Store(float* p, Vec v) { _mm512_storeu_ps(p, v); }
  static Vec LoadBf16(const uint16_t* p) {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  static Vec LoadF16(const uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static Vec Fma(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
  static Vec Add(Vec a, Vec b) { return _mm512_add_ps(a, b); }
  static float Sum(Vec v) { return _mm512_reduce_add_ps(v); }
};

}  // namespace

const DenseKernels& Avx512Kernels() {
  static const DenseKernels k{SimdLevel::kAvx512, MatMulRowsT<Avx512>, DotT<Avx512>,
                              AxpyT<Avx512>};
  return k;
}

}  // namespace glmq::cpu
