// The vision towers' kernels (kernels_vision.h): LayerNorm with the
// EVA2-CLIP post-norm residual, GELU, SiLU·up, NeoX 2-D RoPE, the merge
// conv's window gather and bidirectional attention.
#include <cmath>

#include "runtime/cuda/kernels_vision.h"
#include "runtime/cuda/device_util.cuh"

namespace glmq::cuda {
namespace {

constexpr int kBlock = 256;

// The sum of v over the block; `shared` holds blockDim.x / 32 floats.
__device__ float BlockSum(float v, float* shared) {
  v = WarpSum(v);
  __syncthreads();  // an earlier call's readers are done with `shared`
  if (threadIdx.x % 32 == 0) shared[threadIdx.x / 32] = v;
  __syncthreads();
  float total = 0.f;
  for (int w = 0; w < blockDim.x / 32; ++w) total += shared[w];
  return total;
}


// One block per row; two passes (mean, then squared deviations) as the CPU.
__global__ void LayerNormKernel(const float* x, const float* x_bias, const float* weight,
                                const float* bias, int64_t dim, float eps, float* out,
                                float* residual) {
  __shared__ float partial[kBlock / 32];
  const float* xr = x + blockIdx.x * dim;
  auto value = [&](int64_t i) { return x_bias != nullptr ? xr[i] + x_bias[i] : xr[i]; };
  float sum = 0.f;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) sum += value(i);
  const float mean = BlockSum(sum, partial) / static_cast<float>(dim);
  float ss = 0.f;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
    const float d = value(i) - mean;
    ss = fmaf(d, d, ss);
  }
  const float inv = 1.0f / sqrtf(BlockSum(ss, partial) / static_cast<float>(dim) + eps);
  float* o = out + blockIdx.x * dim;
  float* res = residual != nullptr ? residual + blockIdx.x * dim : nullptr;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
    float v = (value(i) - mean) * inv * weight[i];
    if (bias != nullptr) v += bias[i];
    o[i] = v;
    if (res != nullptr) res[i] += v;
  }
}

__global__ void BiasGeluKernel(float* y, const float* bias, int64_t n, int64_t dim) {
  const float inv_sqrt2 = 0.70710678118654752f;
  GLMQ_GRID_LOOP(i, n * dim) {
    const float v = bias != nullptr ? y[i] + bias[i % dim] : y[i];
    y[i] = 0.5f * v * (1.0f + erff(v * inv_sqrt2));
  }
}

__global__ void SiluMulKernel(const float* gate, const float* up, int64_t n, float* out) {
  GLMQ_GRID_LOOP(i, n) out[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

// One thread per (row, head, d < half).
__global__ void Rope2dNeoxKernel(float* x, int64_t row_stride, int64_t n, int64_t heads,
                                 int64_t head_dim, const float* cos_sin) {
  const int64_t half = head_dim / 2;
  GLMQ_GRID_LOOP(i, n * heads * half) {
    const int64_t d = i % half, h = (i / half) % heads, t = i / (half * heads);
    const float* cs = cos_sin + t * head_dim;
    float* v = x + t * row_stride + h * head_dim;
    const float a = v[d], b = v[d + half];
    v[d] = a * cs[d] - b * cs[half + d];
    v[d + half] = b * cs[d] + a * cs[half + d];
  }
}

__global__ void GatherWindowsKernel(const float* x, int64_t dim, const int64_t* src_rows,
                                    int64_t n_windows, int64_t m2, float* out) {
  GLMQ_GRID_LOOP(o, n_windows * dim * m2) {
    const int64_t k = o % m2, c = (o / m2) % dim, w = o / (m2 * dim);
    out[o] = x[src_rows[w * m2 + k] * dim + c];
  }
}

// Attention: a block of kAttnWarps warps takes kAttnQ queries per warp of
// one head (grid: query groups x heads); key/value tiles of kAttnKeys rows
// are staged in shared memory. Lane j scores key j of the tile, the tile's
// probabilities are broadcast by shuffles into the accumulators (lane j
// owns dims j, j + 32, j + 64, j + 96).
constexpr int kAttnWarps = 4, kAttnQ = 4, kAttnKeys = 32;
constexpr int kAttnSlots = kMaxVisionHeadDim / 32;

__global__ void __launch_bounds__(kAttnWarps * 32)
    VisionAttentionKernel(const float* qkv, int64_t n, int64_t n_heads, int64_t head_dim,
                          int64_t stride, float scale, float* out) {
  __shared__ float ks[kAttnKeys][kMaxVisionHeadDim + 1];  // +1: no bank conflicts by lane
  __shared__ float vs[kAttnKeys][kMaxVisionHeadDim];
  __shared__ float qs[kAttnWarps][kAttnQ][kMaxVisionHeadDim];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t h = blockIdx.y, hidden = n_heads * head_dim;
  const int64_t q0 = (int64_t{blockIdx.x} * kAttnWarps + warp) * kAttnQ;
  for (int qi = 0; qi < kAttnQ; ++qi) {
    for (int64_t d = lane; d < head_dim; d += 32) {
      const int64_t t = q0 + qi;
      qs[warp][qi][d] = t < n ? qkv[t * stride + h * head_dim + d] * scale : 0.f;
    }
  }
  float m[kAttnQ], l[kAttnQ], acc[kAttnQ][kAttnSlots];
  for (int qi = 0; qi < kAttnQ; ++qi) {
    m[qi] = -INFINITY;
    l[qi] = 0.f;
    for (int j = 0; j < kAttnSlots; ++j) acc[qi][j] = 0.f;
  }
  for (int64_t k0 = 0; k0 < n; k0 += kAttnKeys) {
    __syncthreads();  // the previous tile is consumed (and qs is written)
    for (int64_t idx = threadIdx.x; idx < kAttnKeys * head_dim; idx += blockDim.x) {
      const int64_t key = idx / head_dim, d = idx % head_dim, t = k0 + key;
      ks[key][d] = t < n ? qkv[t * stride + hidden + h * head_dim + d] : 0.f;
      vs[key][d] = t < n ? qkv[t * stride + 2 * hidden + h * head_dim + d] : 0.f;
    }
    __syncthreads();
    const bool key_ok = k0 + lane < n;
    for (int qi = 0; qi < kAttnQ; ++qi) {
      float s = 0.f;
      for (int64_t d = 0; d < head_dim; ++d) s = fmaf(qs[warp][qi][d], ks[lane][d], s);
      if (!key_ok) s = -INFINITY;
      const float m_new = fmaxf(m[qi], WarpMax(s));  // finite: key k0 is valid
      const float p = key_ok ? expf(s - m_new) : 0.f;
      const float corr = expf(m[qi] - m_new);  // 0 on the first tile
      l[qi] = l[qi] * corr + WarpSum(p);
      for (int j = 0; j < kAttnSlots; ++j) acc[qi][j] *= corr;
      for (int key = 0; key < kAttnKeys; ++key) {
        const float pk = __shfl_sync(0xffffffffu, p, key);
        for (int j = 0; j < kAttnSlots; ++j) {
          const int64_t d = lane + 32 * j;
          if (d < head_dim) acc[qi][j] = fmaf(pk, vs[key][d], acc[qi][j]);
        }
      }
      m[qi] = m_new;
    }
  }
  for (int qi = 0; qi < kAttnQ; ++qi) {
    const int64_t t = q0 + qi;
    if (t >= n) continue;
    for (int j = 0; j < kAttnSlots; ++j) {
      const int64_t d = lane + 32 * j;
      if (d < head_dim) out[t * hidden + h * head_dim + d] = acc[qi][j] / l[qi];
    }
  }
}

}  // namespace

cudaError_t LaunchVisionLayerNorm(const float* x, const float* x_bias, const float* weight,
                                  const float* bias, int64_t n_rows, int64_t dim, float eps,
                                  float* out, float* residual, cudaStream_t stream) {
  if (n_rows <= 0) return cudaSuccess;
  if (n_rows >= (int64_t{1} << 31)) return cudaErrorInvalidValue;
  LayerNormKernel<<<static_cast<unsigned>(n_rows), kBlock, 0, stream>>>(x, x_bias, weight, bias,
                                                                        dim, eps, out, residual);
  return cudaGetLastError();
}

cudaError_t LaunchBiasGelu(float* y, const float* bias, int64_t n_rows, int64_t dim,
                           cudaStream_t stream) {
  BiasGeluKernel<<<Blocks(n_rows * dim, kBlock), kBlock, 0, stream>>>(y, bias, n_rows, dim);
  return cudaGetLastError();
}

cudaError_t LaunchSiluMul(const float* gate, const float* up, int64_t n, float* out,
                          cudaStream_t stream) {
  SiluMulKernel<<<Blocks(n, kBlock), kBlock, 0, stream>>>(gate, up, n, out);
  return cudaGetLastError();
}

cudaError_t LaunchRope2dNeox(float* x, int64_t row_stride, int64_t n_rows, int64_t n_heads,
                             int64_t head_dim, const float* cos_sin, cudaStream_t stream) {
  const int64_t work = n_rows * n_heads * (head_dim / 2);
  Rope2dNeoxKernel<<<Blocks(work, kBlock), kBlock, 0, stream>>>(x, row_stride, n_rows, n_heads,
                                                                head_dim, cos_sin);
  return cudaGetLastError();
}

cudaError_t LaunchGatherWindows(const float* x, int64_t dim, const int64_t* src_rows,
                                int64_t n_windows, int64_t merge, float* out, cudaStream_t stream) {
  const int64_t m2 = merge * merge;
  GatherWindowsKernel<<<Blocks(n_windows * dim * m2, kBlock), kBlock, 0, stream>>>(
      x, dim, src_rows, n_windows, m2, out);
  return cudaGetLastError();
}

cudaError_t LaunchVisionAttention(const float* qkv, int64_t n_rows, int64_t n_heads,
                                  int64_t head_dim, int64_t row_stride, float* out,
                                  cudaStream_t stream) {
  if (n_rows <= 0) return cudaSuccess;
  if (head_dim <= 0 || head_dim > kMaxVisionHeadDim || n_heads <= 0 || n_heads > 65535) {
    return cudaErrorInvalidValue;
  }
  const int64_t per_block = kAttnWarps * kAttnQ;
  const dim3 grid(static_cast<unsigned>((n_rows + per_block - 1) / per_block),
                  static_cast<unsigned>(n_heads));
  const float scale = 1.0f / sqrtf(static_cast<float>(head_dim));
  VisionAttentionKernel<<<grid, kAttnWarps * 32, 0, stream>>>(qkv, n_rows, n_heads, head_dim,
                                                              row_stride, scale, out);
  return cudaGetLastError();
}

}  // namespace glmq::cuda
