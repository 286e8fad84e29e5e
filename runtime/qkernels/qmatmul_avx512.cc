// AVX-512 VNNI QuantMatMul: each 32-value product is one vpdpbusd (EVEX,
// 256-bit: decode is memory-bound, and 32-value activation blocks map one
// block per instruction). q8 uses |w| x sign(a, w) as in AVX2 (q8 and
// activations stay in [-127, 127], so neither negation overflows).
#include "runtime/qkernels/qmatmul_simd_impl.h"

namespace glmq::qk {
namespace {

struct Avx512VnniOps {
  static __m256i DotU(__m256i w, __m256i a) {
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), w, a);
  }
  static __m256i DotS(__m256i w, __m256i a) {
    return DotU(_mm256_abs_epi8(w), _mm256_sign_epi8(a, w));
  }
};

}  // namespace

void RowsAvx512(const QuantWeightView& w, const GroupGeometry& geo, const ActQ& a, int64_t r0,
                int64_t r1, float* y) {
  simd::Rows<Avx512VnniOps>(w, geo, a, r0, r1, y);
}

}  // namespace glmq::qk
