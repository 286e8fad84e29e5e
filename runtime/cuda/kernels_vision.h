// Launchers of the vision towers' kernels (kernels_vision.cu), with the
// semantics of runtime/vision/vision_ops.h and attention.h. Each enqueues
// on `stream` and returns the launch's cudaError_t. Pointers are device
// memory; all arithmetic is f32.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace glmq::cuda {

// out[r] = LayerNorm(x[r] + x_bias)·weight + bias (x_bias, bias may be null);
// then, if residual is not null, residual[r] += out[r]. out may alias x
// (AddLayerNormed: x = y, out = y, residual = the stream).
cudaError_t LaunchVisionLayerNorm(const float* x, const float* x_bias, const float* weight,
                                  const float* bias, int64_t n_rows, int64_t dim, float eps,
                                  float* out, float* residual, cudaStream_t stream);
// y[r, i] = gelu_erf(y[r, i] + bias[i]) (bias may be null).
cudaError_t LaunchBiasGelu(float* y, const float* bias, int64_t n_rows, int64_t dim,
                           cudaStream_t stream);
// out[i] = silu(gate[i]) * up[i]; out may alias either.
cudaError_t LaunchSiluMul(const float* gate, const float* up, int64_t n, float* out,
                          cudaStream_t stream);
// NeoX 2-D RoPE from precomputed rows cos_sin [n_rows, head_dim]
// (vision::Rope2dTable).
cudaError_t LaunchRope2dNeox(float* x, int64_t row_stride, int64_t n_rows, int64_t n_heads,
                             int64_t head_dim, const float* cos_sin, cudaStream_t stream);
// out[w, c * m2 + k] = x[src_rows[w * m2 + k], c], m2 = merge^2.
cudaError_t LaunchGatherWindows(const float* x, int64_t dim, const int64_t* src_rows,
                                int64_t n_windows, int64_t merge, float* out, cudaStream_t stream);
// Bidirectional attention over n_rows rows of qkv (rows q|k|v of
// n_heads * head_dim each, row_stride floats apart): out [n_rows, n_heads *
// head_dim]. Online softmax over key tiles kept in shared memory.
inline constexpr int kMaxVisionHeadDim = 128;
cudaError_t LaunchVisionAttention(const float* qkv, int64_t n_rows, int64_t n_heads,
                                  int64_t head_dim, int64_t row_stride, float* out,
                                  cudaStream_t stream);

}  // namespace glmq::cuda
