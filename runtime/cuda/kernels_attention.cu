// Attention over the KV cache: tiled online softmax (queries x keys, GQA:
// a block serves several query heads of one kv group from one K/V tile in
// shared memory), key ranges split between blocks and merged
// (flash-decoding). The cut is attention_plan.h's.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>

#include "runtime/cuda/attention_plan.h"
#include "runtime/cuda/kernels.h"
#include "runtime/cuda/device_util.cuh"

namespace glmq::cuda {
namespace {

constexpr int kKt = static_cast<int>(kAttnKeys);
constexpr int kPerLane = kMaxHeadDim / 32;

// Value d of K (is_v false) or V at sequence position pos of kv head g, f32.
__device__ __forceinline__ float LoadKv(const DevKv& kv, bool is_v, int64_t g, int64_t pos,
                                        int64_t d) {
  const int64_t b = pos / kv.block_tokens, p = pos % kv.block_tokens;
  const uint8_t* base = static_cast<const uint8_t*>((is_v ? kv.v_blocks : kv.k_blocks)[b]);
  const uint8_t* vals = base + (is_v ? kv.VHead(g) : kv.KHead(g));
  const int64_t i = is_v ? kv.VIndex(p, d) : kv.KIndex(p, d);
  switch (kv.elem) {
    case KvElem::kF32: return reinterpret_cast<const float*>(vals)[i];
    case KvElem::kF16: return __half2float(reinterpret_cast<const __half*>(vals)[i]);
    case KvElem::kBF16:
      return __bfloat162float(reinterpret_cast<const __nv_bfloat16*>(vals)[i]);
    default: {
      const __half s = *reinterpret_cast<const __half*>(base + (is_v ? kv.VScale(g, p)
                                                                      : kv.KScale(g, p)));
      return static_cast<float>(reinterpret_cast<const int8_t*>(vals)[i]) * __half2float(s);
    }
  }
}

template <int kQt>
__global__ void AttnPartialKernel(AttnArgs a, AttnPlan plan) {
  extern __shared__ float smem[];
  const int64_t D = a.head_dim;
  float* kt = smem;          // [D, kKt]
  float* vs = kt + D * kKt;  // [kKt, D]
  float* qs = vs + kKt * D;  // [heads_per_block, kQt, D]
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t group = a.n_heads / a.n_kv_heads;
  const int64_t g = blockIdx.y / plan.head_blocks;
  const int64_t hb0 = (blockIdx.y % plan.head_blocks) * plan.heads_per_block;
  const bool head_ok = hb0 + warp < group;
  const int64_t h = g * group + hb0 + warp;
  const int64_t t0 = int64_t{blockIdx.x} * kQt;
  const int64_t n_keys = a.pos0 + min(t0 + kQt, a.n_tokens);
  const int64_t tiles = (n_keys + kKt - 1) / kKt;
  const int64_t per = (tiles + plan.n_splits - 1) / plan.n_splits;
  const int64_t j_begin = blockIdx.z * per * kKt;
  const int64_t j_end = min(n_keys, (blockIdx.z + 1) * per * kKt);
  const float scale = 1.0f / sqrtf(static_cast<float>(D));
  for (int64_t i = threadIdx.x; i < plan.heads_per_block * kQt * D; i += blockDim.x) {
    const int64_t w = i / (kQt * D), t = t0 + (i / D) % kQt;
    const bool ok = t < a.n_tokens && hb0 + w < group;
    qs[i] = ok ? a.q[t * a.q_stride + (g * group + hb0 + w) * D + i % D] : 0.f;
  }
  float m[kQt], l[kQt], o[kQt][kPerLane];
#pragma unroll
  for (int q = 0; q < kQt; ++q) {
    m[q] = -INFINITY, l[q] = 0.f;
#pragma unroll
    for (int i = 0; i < kPerLane; ++i) o[q][i] = 0.f;
  }
  for (int64_t j0 = j_begin; j0 < j_end; j0 += kKt) {
    __syncthreads();
    for (int64_t i = threadIdx.x; i < kKt * D; i += blockDim.x) {
      const int64_t jk = i % kKt, dk = i / kKt;  // K: consecutive positions
      const int64_t jv = i / D, dv = i % D;      // V: consecutive dimensions
      kt[dk * kKt + jk] = j0 + jk < j_end ? LoadKv(a.kv, false, g, j0 + jk, dk) : 0.f;
      vs[jv * D + dv] = j0 + jv < j_end ? LoadKv(a.kv, true, g, j0 + jv, dv) : 0.f;
    }
    __syncthreads();
    if (!head_ok) continue;
#pragma unroll
    for (int q = 0; q < kQt; ++q) {
      const int64_t t = t0 + q;
      if (t >= a.n_tokens) break;
      const int64_t key = j0 + lane;
      float s = -INFINITY;
      if (key < j_end && key <= a.pos0 + t) {
        const float* qv = qs + (warp * kQt + q) * D;
        float dot = 0.f;
        for (int64_t d = 0; d < D; ++d) dot = fmaf(qv[d], kt[d * kKt + lane], dot);
        s = dot * scale;
      }
      const float tmax = WarpMax(s);
      if (tmax == -INFINITY) continue;
      const float mnew = fmaxf(m[q], tmax);
      const float corr = m[q] == -INFINITY ? 0.f : expf(m[q] - mnew);
      const float p = s == -INFINITY ? 0.f : expf(s - mnew);
      l[q] = l[q] * corr + WarpSum(p);
#pragma unroll
      for (int i = 0; i < kPerLane; ++i) o[q][i] *= corr;
      for (int jj = 0; jj < kKt; ++jj) {
        const float pj = __shfl_sync(0xffffffffu, p, jj);
        if (pj == 0.f) continue;
#pragma unroll
        for (int i = 0; i < kPerLane; ++i) {
          const int64_t d = lane + 32 * i;
          if (d < D) o[q][i] = fmaf(pj, vs[jj * D + d], o[q][i]);
        }
      }
      m[q] = mnew;
    }
  }
  if (!head_ok) return;
#pragma unroll
  for (int q = 0; q < kQt; ++q) {
    const int64_t t = t0 + q;
    if (t >= a.n_tokens) break;
    float* out = a.partial + ((t * a.n_heads + h) * plan.n_splits + blockIdx.z) * (D + 2);
#pragma unroll
    for (int i = 0; i < kPerLane; ++i) {
      if (lane + 32 * i < D) out[lane + 32 * i] = o[q][i];
    }
    if (lane == 0) out[D] = m[q], out[D + 1] = l[q];
  }
}

// One block per (token, head): merges the splits' (o, m, l).
__global__ void AttnCombineKernel(AttnArgs a, int64_t n_splits) {
  const int64_t D = a.head_dim, row = blockIdx.x;  // t * n_heads + h
  const float* part = a.partial + row * n_splits * (D + 2);
  float mx = -INFINITY;
  for (int64_t s = 0; s < n_splits; ++s) mx = fmaxf(mx, part[s * (D + 2) + D]);
  float sum = 0.f;
  for (int64_t s = 0; s < n_splits; ++s) {
    const float ms = part[s * (D + 2) + D];
    if (ms != -INFINITY) sum += part[s * (D + 2) + D + 1] * expf(ms - mx);
  }
  const float inv = 1.0f / sum;
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
    float acc = 0.f;
    for (int64_t s = 0; s < n_splits; ++s) {
      const float ms = part[s * (D + 2) + D];
      if (ms != -INFINITY) acc += part[s * (D + 2) + d] * expf(ms - mx);
    }
    a.out[row * D + d] = acc * inv;
  }
}

template <int kQt>
cudaError_t LaunchPartial(const AttnArgs& a, const AttnPlan& p, cudaStream_t stream) {
  const cudaError_t e = cudaFuncSetAttribute(
      AttnPartialKernel<kQt>, cudaFuncAttributeMaxDynamicSharedMemorySize,
      static_cast<int>(p.smem_bytes));
  if (e != cudaSuccess) return e;
  const dim3 grid(static_cast<unsigned>(p.grid_x), static_cast<unsigned>(p.grid_y),
                  static_cast<unsigned>(p.n_splits));
  AttnPartialKernel<kQt><<<grid, static_cast<unsigned>(32 * p.heads_per_block), p.smem_bytes,
                           stream>>>(a, p);
  return cudaGetLastError();
}

}  // namespace

cudaError_t LaunchAttention(const AttnArgs& a, const AttnPlan& plan, cudaStream_t stream) {
  if (a.head_dim > kMaxHeadDim || a.n_tokens == 0) {
    return a.n_tokens == 0 ? cudaSuccess : cudaErrorInvalidValue;
  }
  const cudaError_t e = plan.query_tile == 4 ? LaunchPartial<4>(a, plan, stream)
                                             : LaunchPartial<1>(a, plan, stream);
  if (e != cudaSuccess) return e;
  AttnCombineKernel<<<static_cast<unsigned>(a.n_tokens * a.n_heads), 128, 0, stream>>>(
      a, plan.n_splits);
  return cudaGetLastError();
}

}  // namespace glmq::cuda
