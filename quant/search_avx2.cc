// AVX2 scale search: search_simd_impl.h over two ymm (lanes 0-7, 8-15).
// Compiled with -mavx2 -mfma -mf16c -ffp-contract=off.
#include "quant/search_batch_impl.h"

namespace glmq::search {
namespace {

struct V2x256 {
  struct T {
    __m256 a, b;
  };
  static T Load(const float* p) { return {_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8)}; }
  static T Set1(float f) { return {_mm256_set1_ps(f), _mm256_set1_ps(f)}; }
  static T Zero() { return {_mm256_setzero_ps(), _mm256_setzero_ps()}; }
  static T Add(T x, T y) { return {_mm256_add_ps(x.a, y.a), _mm256_add_ps(x.b, y.b)}; }
  static T Sub(T x, T y) { return {_mm256_sub_ps(x.a, y.a), _mm256_sub_ps(x.b, y.b)}; }
  static T Mul(T x, T y) { return {_mm256_mul_ps(x.a, y.a), _mm256_mul_ps(x.b, y.b)}; }
  static T Fma(T x, T y, T z) {
    return {_mm256_fmadd_ps(x.a, y.a, z.a), _mm256_fmadd_ps(x.b, y.b, z.b)};
  }
  static T Min(T x, T y) { return {_mm256_min_ps(x.a, y.a), _mm256_min_ps(x.b, y.b)}; }
  static T Max(T x, T y) { return {_mm256_max_ps(x.a, y.a), _mm256_max_ps(x.b, y.b)}; }
  static T Abs(T x) {
    const __m256 m = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    return {_mm256_and_ps(x.a, m), _mm256_and_ps(x.b, m)};
  }
  static float Tree(T v) {
    const __m256 a = _mm256_add_ps(v.a, v.b);
    const __m128 b = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    const __m128 c = _mm_add_ps(b, _mm_movehl_ps(b, b));
    return _mm_cvtss_f32(_mm_add_ss(c, _mm_movehdup_ps(c)));
  }
  static float HMin(T v) {
    const __m256 a = _mm256_min_ps(v.a, v.b);
    __m128 b = _mm_min_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    b = _mm_min_ps(b, _mm_movehl_ps(b, b));
    return _mm_cvtss_f32(_mm_min_ss(b, _mm_movehdup_ps(b)));
  }
  static float HMax(T v) {
    const __m256 a = _mm256_max_ps(v.a, v.b);
    __m128 b = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    b = _mm_max_ps(b, _mm_movehl_ps(b, b));
    return _mm_cvtss_f32(_mm_max_ss(b, _mm_movehdup_ps(b)));
  }
  static uint32_t EqMask(T x, T y) {
    const uint32_t lo = _mm256_movemask_ps(_mm256_cmp_ps(x.a, y.a, _CMP_EQ_OQ));
    const uint32_t hi = _mm256_movemask_ps(_mm256_cmp_ps(x.b, y.b, _CMP_EQ_OQ));
    return lo | (hi << 8);
  }
  static void StoreI8(int8_t* q, T v) {
    const __m256i a = _mm256_cvtps_epi32(v.a), b = _mm256_cvtps_epi32(v.b);
    const __m256i w = _mm256_packs_epi32(a, b);        // a0-3 b0-3 | a4-7 b4-7 (int16)
    const __m128i p = _mm_packs_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
    // p = a0-3 b0-3 a4-7 b4-7 -> a0-7 b0-7
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q),
                     _mm_shuffle_epi8(p, _mm_setr_epi8(0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 12,
                                                       13, 14, 15)));
  }
};

struct A256 {
  static constexpr int N = 8;
  using F = batch::Types<8>::F;
  using I = batch::Types<8>::I;
  static F Fma(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  static void Gather(const float* p, int64_t stride, int nb, float* dst) {
    const __m256i idx = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                           _mm256_set1_epi32(static_cast<int>(stride)));
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256 m = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(nb), lane));
    _mm256_storeu_ps(dst, _mm256_mask_i32gather_ps(_mm256_setzero_ps(), p, idx, m, 4));
  }
  static I ToF16(F v) {
    return reinterpret_cast<I>(
        _mm256_cvtepu16_epi32(_mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)));
  }
  static F ToF32(I h) {
    const __m256i x = reinterpret_cast<__m256i>(h);
    // int32 lanes (0..0xffff) -> 8 x u16, then f16 -> f32
    const __m128i p = _mm_packus_epi32(_mm256_castsi256_si128(x), _mm256_extracti128_si256(x, 1));
    return _mm256_cvtph_ps(p);
  }
};

}  // namespace

bool LoadRowAvx2(DType dtype, const void* src, int64_t n, float* dst) {
  const auto* s = static_cast<const uint16_t*>(src);
  const __m256 lim = _mm256_set1_ps(65504.f);
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  int ok = 0xff;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i));
    const __m256 v = dtype == DType::kBF16
                         ? _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16))
                         : _mm256_cvtph_ps(h);
    _mm256_storeu_ps(dst + i, v);
    ok &= _mm256_movemask_ps(_mm256_cmp_ps(_mm256_and_ps(v, abs_mask), lim, _CMP_LE_OQ));
  }
  return LoadRowScalar(dtype, s + i, n - i, dst + i) && ok == 0xff;
}

void QuantizeRowAvx2(const GroupGeometry& geo, const float* x, const float* w, const float* imp,
                     int64_t cols, int grid, uint8_t* out, RowStats* stats) {
  batch::QuantizeRow<A256, simd::Passes<V2x256>>(geo, x, w, imp, cols, grid, out, stats);
}

}  // namespace glmq::search
