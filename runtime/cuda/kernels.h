// Launchers of the CUDA kernels (kernels_*.cu). Each enqueues on `stream`
// and returns the launch's cudaError_t; CudaBackend turns a failure into a
// Status naming the kernel and its shapes (cuda_status.h). All arithmetic
// accumulates in f32. Pointers are device pointers unless said otherwise.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "runtime/cuda/kv_device.h"

namespace glmq::cuda {

// Dense element types of weights and activations' conversions.
enum class DenseElem : int { kF32 = 0, kF16 = 1, kBF16 = 2 };

// A quantized weight in the GPU layout (repack.h), as the kernels read it.
struct QuantW {
  const uint8_t* values = nullptr;
  const uint16_t* scales = nullptr;
  const uint16_t* mins = nullptr;  // q4a only
  int bits = 0;
  int value_offset = 0;
  bool has_min = false;
  int64_t rows = 0, cols = 0, g = 0, n_groups = 0, row_value_bytes = 0;
};

// Tokens one GEMV launch multiplies (each weight row is read once for all).
inline constexpr int kMaxGemvTokens = 8;

// y[t, r] = sum_c W[r, c] x[t, c], t < n_tokens <= kMaxGemvTokens; x:
// [n_tokens, cols] f32, y: [n_tokens, rows] f32. The weight is decoded in
// registers.
cudaError_t LaunchGemvQuant(const QuantW& w, const float* x, int n_tokens, float* y,
                            cudaStream_t stream);
cudaError_t LaunchGemvDense(DenseElem e, const void* w, int64_t rows, int64_t cols,
                            const float* x, int n_tokens, float* y, cudaStream_t stream);
// Rows [r0, r1) of a quantized weight decoded into bf16 [r1 - r0, cols]
// (prefill: cuBLAS multiplies the slice).
cudaError_t LaunchDequantToBf16(const QuantW& w, int64_t r0, int64_t r1, uint16_t* out,
                                cudaStream_t stream);
// out[i] = (to) in[i] for n values: f32 -> bf16 (round to nearest even),
// f16 -> f32.
cudaError_t LaunchF32ToBf16(const float* in, int64_t n, uint16_t* out, cudaStream_t stream);
cudaError_t LaunchF16ToF32(const uint16_t* in, int64_t n, float* out, cudaStream_t stream);

// out[t] = row ids[t] of the table as f32 (ids are device memory, checked
// on the host).
cudaError_t LaunchEmbeddingDense(DenseElem e, const void* table, int64_t cols,
                                 const int32_t* ids, int n, float* out, cudaStream_t stream);
cudaError_t LaunchEmbeddingQuant(const QuantW& w, const int32_t* ids, int n, float* out,
                                 cudaStream_t stream);

// The fused elementwise ops of runtime/backend.h, same semantics.
cudaError_t LaunchRmsNorm(const float* x, const float* weight, int64_t n_tokens, int64_t dim,
                          float eps, float* out, cudaStream_t stream);
cudaError_t LaunchAddBias(float* y, const float* bias, int64_t n_tokens, int64_t dim,
                          cudaStream_t stream);
cudaError_t LaunchAdd(float* x, const float* y, int64_t n, cudaStream_t stream);
// Kept input columns (schema/weight.h): xz = x with columns idx zeroed,
// xg[t, i] = x[t, idx[i]]; x, xz: [n_tokens, cols], xg: [n_tokens, n_kept].
cudaError_t LaunchSplitKept(const float* x, int64_t n_tokens, int64_t cols, const int32_t* idx,
                            int64_t n_kept, float* xz, float* xg, cudaStream_t stream);
cudaError_t LaunchSwiGlu(const float* gate_up, int64_t n_tokens, int64_t ffn, float* out,
                         cudaStream_t stream);
// inv_freq: rope_dims / 2 <= kMaxRopePairs values (host memory, computed as
// the CPU backend does).
inline constexpr int kMaxRopePairs = 128;
cudaError_t LaunchRope(float* x, int64_t row_stride, int64_t n_tokens, int64_t n_heads,
                       int64_t head_dim, int64_t rope_dims, int64_t pos0, const float* inv_freq,
                       cudaStream_t stream);

// The same rotation by explicit angles: angles [n_tokens, rope_dims / 2]
// (device memory; multimodal M-RoPE positions turned into angles on the
// host as the CPU backend computes them).
cudaError_t LaunchRopeAngles(float* x, int64_t row_stride, int64_t n_tokens, int64_t n_heads,
                             int64_t head_dim, int64_t pairs, const float* angles,
                             cudaStream_t stream);

// KV cache writes: token t's K and V vectors (rows of row_stride floats,
// n_kv_heads * head_dim values) at position pos0 + t, converted to kv.elem
// (int8: one f16 scale per vector, specs/vram.md §2).
cudaError_t LaunchWriteKv(const float* k, const float* v, int64_t row_stride, int64_t n_tokens,
                          int64_t n_kv_heads, int64_t pos0, const DevKv& kv,
                          cudaStream_t stream);

// Causal attention (runtime/backend.h Attention) over a DevKv: queries at
// positions [pos0, pos0 + n_tokens). Key ranges are split between blocks
// (flash-decoding) and merged.
struct AttnArgs {
  const float* q = nullptr;
  int64_t q_stride = 0;
  int64_t n_tokens = 0;
  int64_t n_heads = 0, n_kv_heads = 0, head_dim = 0;
  int64_t pos0 = 0;
  DevKv kv;
  float* partial = nullptr;
  float* out = nullptr;  // [n_tokens, n_heads * head_dim]
};
inline constexpr int kMaxHeadDim = 256;
// `plan`: PlanAttention (attention_plan.h) of these shapes; `partial`
// holds plan.partial_floats.
struct AttnPlan;
cudaError_t LaunchAttention(const AttnArgs& a, const AttnPlan& plan, cudaStream_t stream);

}  // namespace glmq::cuda
