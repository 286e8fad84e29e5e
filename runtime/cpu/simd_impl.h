// The SIMD kernels as one template over a vector-traits struct V (Avx2 or
// Avx512). Included only by kernels_avx2.cc and kernels_avx512.cc, each
// compiled with its own -m flags; everything here has internal linkage so
// the two instantiations never mix.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "quant/gemm.h"
#include "runtime/cpu/kernels.h"

namespace glmq::cpu {
namespace {

// Tokens per block: a [64, cols] f32 activation tile (1 MiB at cols 4096)
// stays in L2 while the thread's weight rows stream past it once.
constexpr int64_t kTokenBlock = 64;

template <class V, DType D>
inline typename V::Vec LoadW(const void* w, int64_t i) {
  if constexpr (D == DType::kF32) return V::Load(static_cast<const float*>(w) + i);
  if constexpr (D == DType::kBF16) return V::LoadBf16(static_cast<const uint16_t*>(w) + i);
  if constexpr (D == DType::kF16) return V::LoadF16(static_cast<const uint16_t*>(w) + i);
}

template <DType D>
inline float LoadWScalar(const void* w, int64_t i) {
  if constexpr (D == DType::kF32) return static_cast<const float*>(w)[i];
  if constexpr (D == DType::kBF16) return Bf16ToF32(static_cast<const uint16_t*>(w)[i]);
  if constexpr (D == DType::kF16) return F16ToF32(static_cast<const uint16_t*>(w)[i]);
}

template <class V>
float DotT(const float* a, const float* b, int64_t n) {
  typename V::Vec s0 = V::Zero(), s1 = V::Zero();
  int64_t i = 0;
  for (; i + 2 * V::kWidth <= n; i += 2 * V::kWidth) {
    s0 = V::Fma(V::Load(a + i), V::Load(b + i), s0);
    s1 = V::Fma(V::Load(a + i + V::kWidth), V::Load(b + i + V::kWidth), s1);
  }
  for (; i + V::kWidth <= n; i += V::kWidth) s0 = V::Fma(V::Load(a + i), V::Load(b + i), s0);
  float s = V::Sum(V::Add(s0, s1));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

template <class V>
void AxpyT(float alpha, const float* x, float* y, int64_t n) {
  const typename V::Vec a = V::Set1(alpha);
  int64_t i = 0;
  for (; i + V::kWidth <= n; i += V::kWidth) V::Store(y + i, V::Fma(a, V::Load(x + i), V::Load(y + i)));
  for (; i < n; ++i) y[i] += alpha * x[i];
}

// Software prefetch distance for the weight streams of the GEMV, in bytes
// ahead of the row position being read. Decode reads every weight byte once
// and is bound by memory bandwidth; with several rows streaming at once the
// hardware prefetchers alone leave part of it unused. 512 measured best of
// 0-4096 at 12 row streams (bench/runtime_bench BM_Gemv; docs/benchmarks.md).
constexpr int64_t kPrefetchBytes = 512;

// One weight row x one token, two accumulator chains.
template <class V, DType D>
inline float Dot1x1(const void* w, int64_t wo, const float* x, int64_t cols) {
  typename V::Vec s0 = V::Zero(), s1 = V::Zero();
  int64_t c = 0;
  for (; c + 2 * V::kWidth <= cols; c += 2 * V::kWidth) {
    s0 = V::Fma(LoadW<V, D>(w, wo + c), V::Load(x + c), s0);
    s1 = V::Fma(LoadW<V, D>(w, wo + c + V::kWidth), V::Load(x + c + V::kWidth), s1);
  }
  for (; c + V::kWidth <= cols; c += V::kWidth) s0 = V::Fma(LoadW<V, D>(w, wo + c), V::Load(x + c), s0);
  float s = V::Sum(V::Add(s0, s1));
  for (; c < cols; ++c) s += LoadWScalar<D>(w, wo + c) * x[c];
  return s;
}

// R weight rows x one token (the decode GEMV): R row streams at once, one
// accumulator chain per row (R independent chains hide the FMA latency),
// each activation vector loaded once for R rows, weights prefetched
// kPrefetchBytes ahead, one prefetch per 64-byte line. y[i] = row (r + i) . x.
template <class V, DType D, int R>
inline void DotRx1(const void* w, int64_t r, int64_t cols, const float* x, float* y) {
  constexpr int64_t kStep = D == DType::kF32 ? 16 : 32;  // values in one 64-byte line
  constexpr int kVecs = kStep / V::kWidth;
  const char* base = static_cast<const char*>(w);
  typename V::Vec acc[R];
  for (int i = 0; i < R; ++i) acc[i] = V::Zero();
  int64_t c = 0;
  for (; c + kStep <= cols; c += kStep) {
    typename V::Vec xv[kVecs];
    for (int j = 0; j < kVecs; ++j) xv[j] = V::Load(x + c + j * V::kWidth);
    for (int i = 0; i < R; ++i) {
      const int64_t o = (r + i) * cols + c;
      _mm_prefetch(base + o * static_cast<int64_t>(DTypeSize(D)) + kPrefetchBytes, _MM_HINT_T0);
      for (int j = 0; j < kVecs; ++j) acc[i] = V::Fma(LoadW<V, D>(w, o + j * V::kWidth), xv[j], acc[i]);
    }
  }
  for (; c + V::kWidth <= cols; c += V::kWidth) {
    const typename V::Vec x0 = V::Load(x + c);
    for (int i = 0; i < R; ++i) acc[i] = V::Fma(LoadW<V, D>(w, (r + i) * cols + c), x0, acc[i]);
  }
  for (int i = 0; i < R; ++i) {
    float s = V::Sum(acc[i]);
    for (int64_t k = c; k < cols; ++k) s += LoadWScalar<D>(w, (r + i) * cols + k) * x[k];
    y[i] = s;
  }
}

// y[r] = W[r, :] . x for r in [r0, r1): one token against many rows.
template <class V, DType D>
void GemvRows(const void* w, int64_t cols, const float* x, float* y, int64_t r0, int64_t r1) {
  int64_t r = r0;
  for (; r + V::kGemvRows <= r1; r += V::kGemvRows) DotRx1<V, D, V::kGemvRows>(w, r, cols, x, y + r);
  for (; r < r1; ++r) DotRx1<V, D, 1>(w, r, cols, x, y + r);
}

// R weight rows x 4 tokens: every weight vector loaded once feeds 4 FMAs,
// every activation vector R FMAs.
template <class V, DType D, int R>
inline void DotRx4(const void* w, int64_t r, int64_t cols, const float* x, int64_t t, float* y,
                   int64_t y_stride) {
  typename V::Vec acc[R][4];
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < 4; ++j) acc[i][j] = V::Zero();
  const float* x0 = x + t * cols;
  int64_t c = 0;
  for (; c + V::kWidth <= cols; c += V::kWidth) {
    typename V::Vec xv[4];
    for (int j = 0; j < 4; ++j) xv[j] = V::Load(x0 + j * cols + c);
    for (int i = 0; i < R; ++i) {
      const typename V::Vec wv = LoadW<V, D>(w, (r + i) * cols + c);
      for (int j = 0; j < 4; ++j) acc[i][j] = V::Fma(wv, xv[j], acc[i][j]);
    }
  }
  for (int i = 0; i < R; ++i) {
    for (int j = 0; j < 4; ++j) {
      float s = V::Sum(acc[i][j]);
      for (int64_t k = c; k < cols; ++k) s += LoadWScalar<D>(w, (r + i) * cols + k) * x0[j * cols + k];
      y[(t + j) * y_stride + r + i] = s;
    }
  }
}

// Rows [r, r + R) against the token block [tb, te): groups of 4 tokens
// through DotRx4, the remaining tokens one by one.
template <class V, DType D, int R>
inline void RowsXTokens(const void* w, int64_t r, int64_t cols, const float* x, int64_t tb,
                        int64_t t4, int64_t te, float* y, int64_t y_stride) {
  for (int64_t t = tb; t < t4; t += 4) DotRx4<V, D, R>(w, r, cols, x, t, y, y_stride);
  for (int64_t t = t4; t < te; ++t) {
    for (int i = 0; i < R; ++i) y[t * y_stride + r + i] = Dot1x1<V, D>(w, (r + i) * cols, x + t * cols, cols);
  }
}

// From this many tokens on, the weights are converted to f32 once per call
// into packed panels (quant/gemm.h) instead of once per 4 tokens.
constexpr int64_t kGemmMinTokens = 8;

template <class V, DType D>
void MatMulRowsTyped(const void* w, int64_t cols, const float* x, int64_t n_tokens, float* y,
                     int64_t y_stride, int64_t r0, int64_t r1) {
  if (n_tokens < 4) {  // decode: bandwidth-bound GEMV per token
    for (int64_t t = 0; t < n_tokens; ++t) GemvRows<V, D>(w, cols, x + t * cols, y + t * y_stride, r0, r1);
    return;
  }
  if (n_tokens >= kGemmMinTokens) {
    return gemm::MatMulWeightsT(V::kLevel, n_tokens, cols, x, cols, D, w, r0, r1, y, y_stride);
  }
  constexpr int R = V::kGemmRows;
  for (int64_t tb = 0; tb < n_tokens; tb += kTokenBlock) {
    const int64_t te = tb + kTokenBlock < n_tokens ? tb + kTokenBlock : n_tokens;
    const int64_t t4 = tb + (te - tb) / 4 * 4;
    int64_t r = r0;
    for (; r + R <= r1; r += R) RowsXTokens<V, D, R>(w, r, cols, x, tb, t4, te, y, y_stride);
    for (; r < r1; ++r) RowsXTokens<V, D, 1>(w, r, cols, x, tb, t4, te, y, y_stride);
  }
}

template <class V>
void MatMulRowsT(DType wtype, const void* w, int64_t cols, const float* x, int64_t n_tokens,
                 float* y, int64_t y_stride, int64_t r0, int64_t r1) {
  switch (wtype) {
    case DType::kBF16: return MatMulRowsTyped<V, DType::kBF16>(w, cols, x, n_tokens, y, y_stride, r0, r1);
    case DType::kF16: return MatMulRowsTyped<V, DType::kF16>(w, cols, x, n_tokens, y, y_stride, r0, r1);
    default: return MatMulRowsTyped<V, DType::kF32>(w, cols, x, n_tokens, y, y_stride, r0, r1);
  }
}

}  // namespace
}  // namespace glmq::cpu
