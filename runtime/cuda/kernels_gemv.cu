// Decode GEMV (one warp per weight row, the row read once for up to
// kMaxGemvTokens tokens, values decoded in registers) and the prefill
// dequantization of a row slice to bf16 for cuBLAS.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "runtime/cuda/kernels.h"
#include "runtime/cuda/device_util.cuh"

namespace glmq::cuda {
namespace {

constexpr int kWarpsPerBlock = 8;

__device__ __forceinline__ float H2F(uint16_t h) { return __half2float(__ushort_as_half(h)); }

// The 32 stored values of chunk k of a row (q8: int8; q4/q4a: nibbles).
template <int kBits>
__device__ __forceinline__ void LoadChunk(const uint8_t* row, int64_t k, int q[32]) {
  if constexpr (kBits == 4) {
    const uint4 raw = *reinterpret_cast<const uint4*>(row + k * 16);
    const uint32_t w[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
    for (int j = 0; j < 16; ++j) {
      const uint32_t b = (w[j / 4] >> (8 * (j % 4))) & 0xffu;
      q[j] = static_cast<int>(b & 0x0fu);
      q[j + 16] = static_cast<int>(b >> 4);
    }
  } else {
    const uint4* p = reinterpret_cast<const uint4*>(row + k * 32);
    const uint4 a = p[0], b = p[1];
    const uint32_t w[8] = {a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w};
#pragma unroll
    for (int j = 0; j < 32; ++j) {
      q[j] = static_cast<int>(static_cast<int8_t>((w[j / 4] >> (8 * (j % 4))) & 0xffu));
    }
  }
}

// The quantized GEMV stages the activations of kXTileCols columns in shared
// memory (coalesced loads, shared by the block's 8 rows), then lane i takes
// chunk i of the tile: 32 values, read as 8 float4 at i * kXLaneStride
// floats. The 4-float pad per lane keeps each 8-lane phase of those float4
// reads on distinct banks.
constexpr int kXTileCols = 32 * 32;
constexpr int kXLaneStride = 32 + 4;
constexpr int kXTileStride = 32 * kXLaneStride;

template <int kBits, bool kMin>
__global__ void GemvQuantKernel(QuantW w, const float* __restrict__ x, int n_tokens,
                                float* __restrict__ y) {
  __shared__ float4 xs4[kMaxGemvTokens * kXTileStride / 4];
  float* xs = reinterpret_cast<float*>(xs4);
  const int lane = threadIdx.x % 32;
  const int64_t r = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  const bool row_ok = r < w.rows;  // no early return: the block synchronizes per tile
  const int64_t row_values = w.row_value_bytes * 8 / kBits;
  const int64_t chunks = row_values / 32;
  const uint8_t* row = w.values + (row_ok ? r : 0) * w.row_value_bytes;
  const uint16_t* sc = w.scales + (row_ok ? r : 0) * w.n_groups;
  const uint16_t* mn = kMin ? w.mins + (row_ok ? r : 0) * w.n_groups : nullptr;
  const bool whole = (w.g % 32) == 0;  // every chunk inside one group
  const float off = static_cast<float>(w.value_offset);
  float acc[kMaxGemvTokens] = {};
  for (int64_t c_tile = 0; c_tile < row_values; c_tile += kXTileCols) {
    __syncthreads();
    for (int i = threadIdx.x; i < n_tokens * kXTileCols; i += blockDim.x) {
      const int t = i / kXTileCols, c = i % kXTileCols;
      const int64_t col = c_tile + c;
      xs[t * kXTileStride + (c / 32) * kXLaneStride + c % 32] =
          col < w.cols ? __ldg(x + t * w.cols + col) : 0.f;
    }
    __syncthreads();
    const int64_t k = c_tile / 32 + lane;
    if (!row_ok || k >= chunks) continue;
    int q[32];
    LoadChunk<kBits>(row, k, q);
    const int64_t c0 = k * 32;
    float wv[32];
    if (whole) {
      const int64_t gi = c0 / w.g;
      const float s = H2F(sc[gi]), m = kMin ? H2F(mn[gi]) : 0.f;
#pragma unroll
      for (int j = 0; j < 32; ++j) wv[j] = s * (static_cast<float>(q[j]) - off) + m;
    } else {
#pragma unroll
      for (int j = 0; j < 32; ++j) {
        const int64_t gi = min((c0 + j) / w.g, w.n_groups - 1);
        const float m = kMin ? H2F(mn[gi]) : 0.f;
        wv[j] = H2F(sc[gi]) * (static_cast<float>(q[j]) - off) + m;
      }
    }
#pragma unroll
    for (int t = 0; t < kMaxGemvTokens; ++t) {
      if (t >= n_tokens) break;
      const float4* xp = reinterpret_cast<const float4*>(xs + t * kXTileStride +
                                                         lane * kXLaneStride);
      float part = 0.f;
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        const float4 f = xp[j];
        part = fmaf(wv[4 * j], f.x, part);
        part = fmaf(wv[4 * j + 1], f.y, part);
        part = fmaf(wv[4 * j + 2], f.z, part);
        part = fmaf(wv[4 * j + 3], f.w, part);
      }
      acc[t] += part;
    }
  }
  if (!row_ok) return;
#pragma unroll
  for (int t = 0; t < kMaxGemvTokens; ++t) {
    if (t >= n_tokens) break;
    const float s = WarpSum(acc[t]);
    if (lane == 0) y[t * w.rows + r] = s;
  }
}

template <typename T>
__device__ __forceinline__ float ToF(T v);
template <>
__device__ __forceinline__ float ToF<float>(float v) { return v; }
template <>
__device__ __forceinline__ float ToF<__half>(__half v) { return __half2float(v); }
template <>
__device__ __forceinline__ float ToF<__nv_bfloat16>(__nv_bfloat16 v) {
  return __bfloat162float(v);
}

template <typename T>
__global__ void GemvDenseKernel(const T* __restrict__ w, int64_t rows, int64_t cols,
                                const float* __restrict__ x, int n_tokens,
                                float* __restrict__ y) {
  constexpr int kVec = 16 / sizeof(T);
  const int lane = threadIdx.x % 32;
  const int64_t r = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  if (r >= rows) return;
  const T* row = w + r * cols;
  float acc[kMaxGemvTokens] = {};
  const bool vec = (cols % kVec) == 0 && (cols % 4) == 0;
  const int64_t step = vec ? kVec : 1;
  for (int64_t c = lane * step; c < cols; c += 32 * step) {
    float wv[kVec];
    if (vec) {
      const uint4 raw = __ldg(reinterpret_cast<const uint4*>(row + c));
      const T* e = reinterpret_cast<const T*>(&raw);
#pragma unroll
      for (int j = 0; j < kVec; ++j) wv[j] = ToF(e[j]);
    } else {
      wv[0] = ToF(row[c]);
    }
#pragma unroll
    for (int t = 0; t < kMaxGemvTokens; ++t) {
      if (t >= n_tokens) break;
      const float* xt = x + t * cols + c;
      float part = 0.f;
      if (vec) {
#pragma unroll
        for (int j = 0; j < kVec; ++j) part = fmaf(wv[j], __ldg(xt + j), part);
      } else {
        part = wv[0] * __ldg(xt);
      }
      acc[t] += part;
    }
  }
#pragma unroll
  for (int t = 0; t < kMaxGemvTokens; ++t) {
    if (t >= n_tokens) break;
    const float s = WarpSum(acc[t]);
    if (lane == 0) y[t * rows + r] = s;
  }
}

// Decoded value (r, c) of the GPU layout (repack.h RepackedValue).
__device__ __forceinline__ float QuantValue(const QuantW& w, int64_t r, int64_t c) {
  const uint8_t* vals = w.values + r * w.row_value_bytes;
  int q;
  if (w.bits == 8) {
    q = static_cast<int8_t>(vals[c]);
  } else {
    const uint8_t b = vals[(c / 32) * 16 + (c % 16)];
    q = (c % 32) < 16 ? (b & 0x0f) : (b >> 4);
  }
  const int64_t gi = r * w.n_groups + c / w.g;
  const float m = w.has_min ? H2F(w.mins[gi]) : 0.f;
  return H2F(w.scales[gi]) * static_cast<float>(q - w.value_offset) + m;
}

__global__ void DequantBf16Kernel(QuantW w, int64_t r0, int64_t r1, __nv_bfloat16* out) {
  const int64_t n = (r1 - r0) * w.cols;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t r = r0 + i / w.cols, c = i % w.cols;
    out[i] = __float2bfloat16_rn(QuantValue(w, r, c));
  }
}

__global__ void EmbeddingQuantKernel(QuantW w, const int32_t* ids, float* out) {
  const int64_t t = blockIdx.y, r = ids[t];
  for (int64_t c = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; c < w.cols;
       c += int64_t{gridDim.x} * blockDim.x) {
    out[t * w.cols + c] = QuantValue(w, r, c);
  }
}

template <typename T>
__global__ void EmbeddingDenseKernel(const T* table, int64_t cols, const int32_t* ids,
                                     float* out) {
  const int64_t t = blockIdx.y, r = ids[t];
  for (int64_t c = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; c < cols;
       c += int64_t{gridDim.x} * blockDim.x) {
    out[t * cols + c] = ToF(table[r * cols + c]);
  }
}

unsigned GridFor(int64_t n, int block) {
  const int64_t b = (n + block - 1) / block;
  return static_cast<unsigned>(b < 65535 * 8 ? (b > 0 ? b : 1) : 65535 * 8);
}

}  // namespace

cudaError_t LaunchGemvQuant(const QuantW& w, const float* x, int n_tokens, float* y,
                            cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>((w.rows + kWarpsPerBlock - 1) / kWarpsPerBlock));
  const dim3 block(32 * kWarpsPerBlock);
  if (w.bits == 8) {
    GemvQuantKernel<8, false><<<grid, block, 0, stream>>>(w, x, n_tokens, y);
  } else if (w.has_min) {
    GemvQuantKernel<4, true><<<grid, block, 0, stream>>>(w, x, n_tokens, y);
  } else {
    GemvQuantKernel<4, false><<<grid, block, 0, stream>>>(w, x, n_tokens, y);
  }
  return cudaGetLastError();
}

cudaError_t LaunchGemvDense(DenseElem e, const void* w, int64_t rows, int64_t cols,
                            const float* x, int n_tokens, float* y, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>((rows + kWarpsPerBlock - 1) / kWarpsPerBlock));
  const dim3 block(32 * kWarpsPerBlock);
  switch (e) {
    case DenseElem::kF32:
      GemvDenseKernel<<<grid, block, 0, stream>>>(static_cast<const float*>(w), rows, cols, x,
                                                  n_tokens, y);
      break;
    case DenseElem::kF16:
      GemvDenseKernel<<<grid, block, 0, stream>>>(static_cast<const __half*>(w), rows, cols, x,
                                                  n_tokens, y);
      break;
    case DenseElem::kBF16:
      GemvDenseKernel<<<grid, block, 0, stream>>>(static_cast<const __nv_bfloat16*>(w), rows,
                                                  cols, x, n_tokens, y);
      break;
  }
  return cudaGetLastError();
}

cudaError_t LaunchDequantToBf16(const QuantW& w, int64_t r0, int64_t r1, uint16_t* out,
                                cudaStream_t stream) {
  DequantBf16Kernel<<<GridFor((r1 - r0) * w.cols, 256), 256, 0, stream>>>(
      w, r0, r1, reinterpret_cast<__nv_bfloat16*>(out));
  return cudaGetLastError();
}

cudaError_t LaunchEmbeddingQuant(const QuantW& w, const int32_t* ids, int n, float* out,
                                 cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>((w.cols + 255) / 256), static_cast<unsigned>(n));
  EmbeddingQuantKernel<<<grid, 256, 0, stream>>>(w, ids, out);
  return cudaGetLastError();
}

cudaError_t LaunchEmbeddingDense(DenseElem e, const void* table, int64_t cols,
                                 const int32_t* ids, int n, float* out, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>((cols + 255) / 256), static_cast<unsigned>(n));
  switch (e) {
    case DenseElem::kF32:
      EmbeddingDenseKernel<<<grid, 256, 0, stream>>>(static_cast<const float*>(table), cols,
                                                     ids, out);
      break;
    case DenseElem::kF16:
      EmbeddingDenseKernel<<<grid, 256, 0, stream>>>(static_cast<const __half*>(table), cols,
                                                     ids, out);
      break;
    case DenseElem::kBF16:
      EmbeddingDenseKernel<<<grid, 256, 0, stream>>>(
          static_cast<const __nv_bfloat16*>(table), cols, ids, out);
      break;
  }
  return cudaGetLastError();
}

}  // namespace glmq::cuda
