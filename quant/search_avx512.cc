// AVX-512 scale search: search_simd_impl.h over one zmm of 16 f32 lanes.
// Compiled with -mavx512f/bw/vl/dq -mfma -mf16c -ffp-contract=off.
#include "quant/search_batch_impl.h"

namespace glmq::search {
namespace {

struct V512 {
  using T = __m512;
  static T Load(const float* p) { return _mm512_loadu_ps(p); }
  static T Set1(float f) { return _mm512_set1_ps(f); }
  static T Zero() { return _mm512_setzero_ps(); }
  static T Add(T a, T b) { return _mm512_add_ps(a, b); }
  static T Sub(T a, T b) { return _mm512_sub_ps(a, b); }
  static T Mul(T a, T b) { return _mm512_mul_ps(a, b); }
  static T Fma(T a, T b, T c) { return _mm512_fmadd_ps(a, b, c); }
  static T Min(T a, T b) { return _mm512_min_ps(a, b); }
  static T Max(T a, T b) { return _mm512_max_ps(a, b); }
  static T Abs(T a) { return _mm512_abs_ps(a); }
  static float Tree(T v) {
    const __m256 a = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
    const __m128 b = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    const __m128 c = _mm_add_ps(b, _mm_movehl_ps(b, b));
    return _mm_cvtss_f32(_mm_add_ss(c, _mm_movehdup_ps(c)));
  }
  static float HMin(T v) { return _mm512_reduce_min_ps(v); }
  static float HMax(T v) { return _mm512_reduce_max_ps(v); }
  static uint32_t EqMask(T a, T b) { return _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ); }
  static void StoreI8(int8_t* q, T v) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q), _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(v)));
  }
};

struct A512 {
  static constexpr int N = 16;
  using F = batch::Types<16>::F;
  using I = batch::Types<16>::I;
  static F Fma(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  static void Gather(const float* p, int64_t stride, int nb, float* dst) {
    const __m512i idx = _mm512_mullo_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
        _mm512_set1_epi32(static_cast<int>(stride)));
    const __mmask16 m = nb >= 16 ? 0xffff : static_cast<__mmask16>((1u << nb) - 1);
    _mm512_storeu_ps(dst, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx, p, 4));
  }
  static I ToF16(F v) {
    return reinterpret_cast<I>(_mm512_cvtepu16_epi32(
        _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)));
  }
  static F ToF32(I h) { return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(reinterpret_cast<__m512i>(h))); }
};

}  // namespace

bool LoadRowAvx512(DType dtype, const void* src, int64_t n, float* dst) {
  const auto* s = static_cast<const uint16_t*>(src);
  const __m512 lim = _mm512_set1_ps(65504.f);
  __mmask16 ok = 0xffff;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i));
    const __m512 v =
        dtype == DType::kBF16
            ? _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16))
            : _mm512_cvtph_ps(h);
    _mm512_storeu_ps(dst + i, v);
    ok &= _mm512_cmp_ps_mask(_mm512_abs_ps(v), lim, _CMP_LE_OQ);  // NaN: false
  }
  return LoadRowScalar(dtype, s + i, n - i, dst + i) && ok == 0xffff;
}

void QuantizeRowAvx512(const GroupGeometry& geo, const float* x, const float* w,
                       const float* imp, int64_t cols, int grid, uint8_t* out, RowStats* stats) {
  batch::QuantizeRow<A512, simd::Passes<V512>>(geo, x, w, imp, cols, grid, out, stats);
}

}  // namespace glmq::search
