// AVX2 QuantMatMul: 32-value products with vpmaddubsw + vpmaddwd. No int16
// saturation is possible: |u8 x s8| pairs are at most 2*15*127 (q4) or
// 2*127*127 = 32258 (q8, as |w| x sign(a, w)) < 32767.
#include "runtime/cpu/qmatmul_simd_impl.h"

namespace glmq::qk {
namespace {

struct Avx2Ops {
  static __m256i DotU(__m256i w, __m256i a) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(w, a), _mm256_set1_epi16(1));
  }
  static __m256i DotS(__m256i w, __m256i a) {
    return DotU(_mm256_abs_epi8(w), _mm256_sign_epi8(a, w));
  }
};

}  // namespace

void RowsAvx2(const WeightView& w, const GroupGeometry& geo, const ActQ& a, int64_t r0,
              int64_t r1, float* y) {
  simd::Rows<Avx2Ops>(w, geo, a, r0, r1, y);
}

}  // namespace glmq::qk
