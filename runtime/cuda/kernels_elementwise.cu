// Fused elementwise kernels of the forward pass (RMSNorm, bias, residual
// add, SwiGLU, partial interleaved RoPE), conversions, and the KV cache
// writes (bf16 / f16 / f32, int8 per specs/vram.md §2).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "runtime/cuda/kernels.h"
#include "runtime/cuda/device_util.cuh"

namespace glmq::cuda {
namespace {


// One block (256 threads) per row.
__global__ void RmsNormKernel(const float* x, const float* weight, int64_t dim, float eps,
                              float* out) {
  __shared__ float partial[8];
  const float* xr = x + blockIdx.x * dim;
  float ss = 0.f;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) ss = fmaf(xr[i], xr[i], ss);
  ss = WarpSum(ss);
  if (threadIdx.x % 32 == 0) partial[threadIdx.x / 32] = ss;
  __syncthreads();
  float total = 0.f;
  for (int w = 0; w < blockDim.x / 32; ++w) total += partial[w];
  const float inv = 1.0f / sqrtf(total / static_cast<float>(dim) + eps);
  float* o = out + blockIdx.x * dim;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) o[i] = weight[i] * (xr[i] * inv);
}

__global__ void AddBiasKernel(float* y, const float* bias, int64_t n, int64_t dim) {
  GLMQ_GRID_LOOP(i, n * dim) y[i] += bias[i % dim];
}

__global__ void AddKernel(float* x, const float* y, int64_t n) {
  GLMQ_GRID_LOOP(i, n) x[i] += y[i];
}

__global__ void CopyKernel(const float* x, int64_t n, float* out) {
  GLMQ_GRID_LOOP(i, n) out[i] = x[i];
}

__global__ void SplitKeptKernel(const float* x, int64_t n_tokens, int64_t cols,
                                const int32_t* idx, int64_t n_kept, float* xz, float* xg) {
  GLMQ_GRID_LOOP(i, n_tokens * n_kept) {
    const int64_t t = i / n_kept, c = idx[i % n_kept];
    xg[i] = x[t * cols + c];
    xz[t * cols + c] = 0.f;
  }
}

__global__ void SwiGluKernel(const float* gu, int64_t n, int64_t ffn, float* out) {
  GLMQ_GRID_LOOP(i, n * ffn) {
    const int64_t t = i / ffn, c = i % ffn;
    const float g = gu[t * 2 * ffn + c], u = gu[t * 2 * ffn + ffn + c];
    out[i] = g / (1.0f + expf(-g)) * u;
  }
}

struct InvFreq {
  float v[kMaxRopePairs];
};

// One thread per (token, head, pair).
__global__ void RopeKernel(float* x, int64_t row_stride, int64_t n, int64_t heads,
                           int64_t head_dim, int64_t pairs, int64_t pos0, InvFreq f) {
  GLMQ_GRID_LOOP(i, n * heads * pairs) {
    const int64_t p = i % pairs, h = (i / pairs) % heads, t = i / (pairs * heads);
    const float angle = static_cast<float>(pos0 + t) * f.v[p];
    float s, c;
    sincosf(angle, &s, &c);
    float* v = x + t * row_stride + h * head_dim + 2 * p;
    const float a = v[0], b = v[1];
    v[0] = a * c - b * s;
    v[1] = b * c + a * s;
  }
}

// One thread per (token, head, pair), angles [n, pairs].
__global__ void RopeAnglesKernel(float* x, int64_t row_stride, int64_t n, int64_t heads,
                                 int64_t head_dim, int64_t pairs, const float* angles) {
  GLMQ_GRID_LOOP(i, n * heads * pairs) {
    const int64_t p = i % pairs, h = (i / pairs) % heads, t = i / (pairs * heads);
    float s, c;
    sincosf(angles[t * pairs + p], &s, &c);
    float* v = x + t * row_stride + h * head_dim + 2 * p;
    const float a = v[0], b = v[1];
    v[0] = a * c - b * s;
    v[1] = b * c + a * s;
  }
}

__global__ void F32ToBf16Kernel(const float* in, int64_t n, __nv_bfloat16* out) {
  GLMQ_GRID_LOOP(i, n) out[i] = __float2bfloat16_rn(in[i]);
}

__global__ void F16ToF32Kernel(const __half* in, int64_t n, float* out) {
  GLMQ_GRID_LOOP(i, n) out[i] = __half2float(in[i]);
}

__device__ __forceinline__ uint8_t* BlockBase(void* const* blocks, int64_t b) {
  return static_cast<uint8_t*>(blocks[b]);
}

// Stores one vector of head_dim values (a warp per vector).
__device__ void StoreKvVector(const float* src, const DevKv& kv, bool is_v, int64_t head,
                              int64_t pos) {
  const int lane = threadIdx.x % 32;
  const int64_t b = pos / kv.block_tokens, p = pos % kv.block_tokens;
  uint8_t* base = BlockBase(is_v ? kv.v_blocks : kv.k_blocks, b);
  uint8_t* vals = base + (is_v ? kv.VHead(head) : kv.KHead(head));
  auto index = [&](int64_t d) { return is_v ? kv.VIndex(p, d) : kv.KIndex(p, d); };
  if (kv.elem == KvElem::kInt8) {
    float amax = 0.f;
    for (int64_t d = lane; d < kv.head_dim; d += 32) amax = fmaxf(amax, fabsf(src[d]));
    amax = WarpMax(amax);
    const __half s16 = __float2half_rn(fminf(amax / 127.0f, 65504.0f));
    const float scale = __half2float(s16);
    for (int64_t d = lane; d < kv.head_dim; d += 32) {
      float q = scale > 0.f ? roundf(src[d] / scale) : 0.f;
      q = q >= 127.f ? 127.f : q <= -127.f ? -127.f : q == q ? q : 0.f;
      reinterpret_cast<int8_t*>(vals)[index(d)] = static_cast<int8_t>(q);
    }
    if (lane == 0) {
      *reinterpret_cast<__half*>(base + (is_v ? kv.VScale(head, p) : kv.KScale(head, p))) = s16;
    }
    return;
  }
  for (int64_t d = lane; d < kv.head_dim; d += 32) {
    const int64_t i = index(d);
    switch (kv.elem) {
      case KvElem::kF32: reinterpret_cast<float*>(vals)[i] = src[d]; break;
      case KvElem::kF16: reinterpret_cast<__half*>(vals)[i] = __float2half_rn(src[d]); break;
      default: reinterpret_cast<__nv_bfloat16*>(vals)[i] = __float2bfloat16_rn(src[d]); break;
    }
  }
}

// One warp per (token, kv head, K|V).
__global__ void WriteKvKernel(const float* k, const float* v, int64_t row_stride, int64_t n,
                              int64_t kv_heads, int64_t pos0, DevKv kv) {
  const int64_t job = (blockIdx.x * int64_t{blockDim.x} + threadIdx.x) / 32;
  if (job >= n * kv_heads * 2) return;
  const bool is_v = job % 2;
  const int64_t h = (job / 2) % kv_heads, t = job / (2 * kv_heads);
  const float* src = (is_v ? v : k) + t * row_stride + h * kv.head_dim;
  StoreKvVector(src, kv, is_v, h, pos0 + t);
}

}  // namespace

cudaError_t LaunchRmsNorm(const float* x, const float* weight, int64_t n_tokens, int64_t dim,
                          float eps, float* out, cudaStream_t stream) {
  RmsNormKernel<<<static_cast<unsigned>(n_tokens), 256, 0, stream>>>(x, weight, dim, eps, out);
  return cudaGetLastError();
}

cudaError_t LaunchAddBias(float* y, const float* bias, int64_t n_tokens, int64_t dim,
                          cudaStream_t stream) {
  AddBiasKernel<<<Blocks(n_tokens * dim, 256), 256, 0, stream>>>(y, bias, n_tokens, dim);
  return cudaGetLastError();
}

cudaError_t LaunchAdd(float* x, const float* y, int64_t n, cudaStream_t stream) {
  AddKernel<<<Blocks(n, 256), 256, 0, stream>>>(x, y, n);
  return cudaGetLastError();
}

cudaError_t LaunchSplitKept(const float* x, int64_t n_tokens, int64_t cols, const int32_t* idx,
                            int64_t n_kept, float* xz, float* xg, cudaStream_t stream) {
  CopyKernel<<<Blocks(n_tokens * cols, 256), 256, 0, stream>>>(x, n_tokens * cols, xz);
  SplitKeptKernel<<<Blocks(n_tokens * n_kept, 256), 256, 0, stream>>>(x, n_tokens, cols, idx,
                                                                       n_kept, xz, xg);
  return cudaGetLastError();
}

cudaError_t LaunchSwiGlu(const float* gate_up, int64_t n_tokens, int64_t ffn, float* out,
                         cudaStream_t stream) {
  SwiGluKernel<<<Blocks(n_tokens * ffn, 256), 256, 0, stream>>>(gate_up, n_tokens, ffn, out);
  return cudaGetLastError();
}

cudaError_t LaunchRope(float* x, int64_t row_stride, int64_t n_tokens, int64_t n_heads,
                       int64_t head_dim, int64_t rope_dims, int64_t pos0, const float* inv_freq,
                       cudaStream_t stream) {
  const int64_t pairs = rope_dims / 2;
  if (pairs > kMaxRopePairs) return cudaErrorInvalidValue;
  if (pairs == 0 || n_tokens == 0) return cudaSuccess;
  InvFreq f{};
  for (int64_t i = 0; i < pairs; ++i) f.v[i] = inv_freq[i];
  RopeKernel<<<Blocks(n_tokens * n_heads * pairs, 256), 256, 0, stream>>>(
      x, row_stride, n_tokens, n_heads, head_dim, pairs, pos0, f);
  return cudaGetLastError();
}

cudaError_t LaunchRopeAngles(float* x, int64_t row_stride, int64_t n_tokens, int64_t n_heads,
                             int64_t head_dim, int64_t pairs, const float* angles,
                             cudaStream_t stream) {
  if (pairs == 0 || n_tokens == 0) return cudaSuccess;
  RopeAnglesKernel<<<Blocks(n_tokens * n_heads * pairs, 256), 256, 0, stream>>>(
      x, row_stride, n_tokens, n_heads, head_dim, pairs, angles);
  return cudaGetLastError();
}

cudaError_t LaunchF32ToBf16(const float* in, int64_t n, uint16_t* out, cudaStream_t stream) {
  F32ToBf16Kernel<<<Blocks(n, 256), 256, 0, stream>>>(in, n,
                                                       reinterpret_cast<__nv_bfloat16*>(out));
  return cudaGetLastError();
}

cudaError_t LaunchF16ToF32(const uint16_t* in, int64_t n, float* out, cudaStream_t stream) {
  F16ToF32Kernel<<<Blocks(n, 256), 256, 0, stream>>>(reinterpret_cast<const __half*>(in), n,
                                                      out);
  return cudaGetLastError();
}

cudaError_t LaunchWriteKv(const float* k, const float* v, int64_t row_stride, int64_t n_tokens,
                          int64_t n_kv_heads, int64_t pos0, const DevKv& kv,
                          cudaStream_t stream) {
  const int64_t warps = n_tokens * n_kv_heads * 2;
  if (warps == 0) return cudaSuccess;
  WriteKvKernel<<<Blocks(warps * 32, 256), 256, 0, stream>>>(k, v, row_stride, n_tokens,
                                                             n_kv_heads, pos0, kv);
  return cudaGetLastError();
}

}  // namespace glmq::cuda
