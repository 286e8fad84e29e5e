// The AVX2 prefill GEMM (qgemm_avx2_panel.h) on CPUs with AVX-VNNI: each
// 4-byte product is one vpdpbusd into int32 where AVX2 takes vpmaddubsw
// (+ vpmaddwd); q8 enters as |w| x sign(a, w) as there. The integer sums
// are AVX2's, so the results are bit-identical to QGemmAvx2's. Compiled
// with -mavx2 -mfma -mf16c -mavxvnni.
#include "runtime/cpu/qgemm_avx2_panel.h"

namespace glmq::qk {
namespace {

struct VnniDot {
  // 6 tokens a tile (one int32 and one f32 accumulator each): prefill at
  // GLMQ_SIMD=avx2 21.4-22.4 tok/s with 4, 22.8-23.7 with 6 (int4-g128).
  static constexpr int kTile = 6;
  template <Kind K>
  static __m256i Add(__m256i ia, __m256i wa, __m256i wv, __m256i av) {
    return _mm256_dpbusd_avx_epi32(ia, wa, K == Kind::kQ8 ? _mm256_sign_epi8(av, wv) : av);
  }
  template <Kind K>
  static __m256i Widen(__m256i ia) {
    return ia;
  }
};

}  // namespace

void QGemmAvxVnni(const WeightView& w, const GroupGeometry& geo, const ActQ& a, int64_t r0,
                  int64_t r1, float* y) {
  GemmRows<Avx2Gemm<VnniDot>>(w, geo, a, r0, r1, y);
}

}  // namespace glmq::qk
