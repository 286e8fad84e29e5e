// The GEMM for AVX-512 (compiled with -mavx512f -mavx512vl -mavx512dq; called only
// when the CPU has it).
#include <immintrin.h>

#include "quant/gemm_impl.h"

namespace glmq::gemm::avx512 {
namespace {

using K32 = impl::Kernel<float, 16, 12>;

// 16 weights of type D at w[i] as f32.
struct Weights {
  template <DType D>
  static K32::V Load(const void* w, int64_t i) {
    __m512 v;
    if constexpr (D == DType::kBF16) {
      const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(w) + i));
      v = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    } else if constexpr (D == DType::kF16) {
      v = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(w) + i)));
    } else {
      v = _mm512_loadu_ps(static_cast<const float*>(w) + i);
    }
    return reinterpret_cast<K32::V&>(v);
  }
  template <DType D>
  static float LoadOne(const void* w, int64_t i) {
    if constexpr (D == DType::kBF16) return Bf16ToF32(static_cast<const uint16_t*>(w)[i]);
    if constexpr (D == DType::kF16) return F16ToF32(static_cast<const uint16_t*>(w)[i]);
    return static_cast<const float*>(w)[i];
  }
};

}  // namespace

void SubMatMul(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
               int64_t ldb, float* c, int64_t ldc) {
  K32::Run(m, n, k, a, lda, b, ldb, c, ldc);
}
void SubMatMul(int64_t m, int64_t n, int64_t k, const double* a, int64_t lda, const double* b,
               int64_t ldb, double* c, int64_t ldc) {
  impl::Kernel<double, 8, 12>::Run(m, n, k, a, lda, b, ldb, c, ldc);
}
void MatMulWeightsT(int64_t m, int64_t k, const float* x, int64_t ldx, DType wtype, const void* w,
                    int64_t r0, int64_t r1, float* y, int64_t ldy) {
  K32::RunWeights<Weights>(m, k, x, ldx, wtype, w, r0, r1, y, ldy);
}

}  // namespace glmq::gemm::avx512
