// The element-wise, row-wise and attention ops of the vision towers over a
// backend's memory. The towers' forward passes (vision_tower.h) are written
// once against Backend (MatMul, buffers, copies) and these ops; the CPU
// implementation calls vision_ops.h and attention.h on host memory, the CUDA
// one (runtime/cuda/cuda_vision.cc) runs kernels on device memory.
//
// Activation pointers are the backend's memory (Backend::AllocateFloats).
// Weight, bias and norm vectors are host vectors that live as long as the
// tower (a device backend mirrors them on first use, keyed by address).
// The void ops queue their work; a failure is recorded and returned by the
// next Backend::MatMul / CopyToHost / Sync. Semantics: vision_ops.h.
#pragma once

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "runtime/backend.h"
#include "runtime/vision/attention.h"

namespace glmq {

class VisionKernels {
 public:
  virtual ~VisionKernels() = default;

  virtual void LayerNorm(const float* x, int64_t n_rows, int64_t dim, const float* weight,
                         const float* bias, float eps, float* out) = 0;
  virtual void RmsNorm(const float* x, int64_t n_rows, int64_t dim, const float* weight, float eps,
                       float* out) = 0;
  virtual void AddLayerNormed(float* x, float* y, const float* y_bias, int64_t n_rows, int64_t dim,
                              const float* weight, const float* bias, float eps) = 0;
  virtual void AddBias(float* y, const float* bias, int64_t n_rows, int64_t dim) = 0;
  virtual void Add(float* x, const float* y, int64_t n) = 0;
  virtual void BiasGelu(float* y, const float* bias, int64_t n_rows, int64_t dim) = 0;
  virtual void SiluMul(const float* gate, const float* up, int64_t n, float* out) = 0;
  // cos_sin: [n_rows, head_dim] in backend memory, vision::Rope2dTable's rows.
  virtual void Rope2dNeox(float* x, int64_t row_stride, int64_t n_rows, int64_t n_heads,
                          int64_t head_dim, const float* cos_sin) = 0;
  // src_rows: host memory, [n_windows * merge^2].
  virtual absl::Status GatherWindows(const float* x, int64_t dim, const int64_t* src_rows,
                                     int64_t n_windows, int64_t merge, float* out) = 0;
  // Bidirectional attention over all s.n_rows rows (attention.h).
  virtual void Attention(const float* qkv, const vision::QkvLayout& s, float* out) = 0;
};

// The ops for `backend`: host memory -> the CPU ops on backend->n_threads()
// threads; a device backend -> its own (FailedPrecondition where the build
// has none). `backend` must outlive the result.
absl::StatusOr<std::unique_ptr<VisionKernels>> MakeVisionKernels(Backend* backend);

}  // namespace glmq
