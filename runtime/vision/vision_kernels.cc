#include "runtime/vision/vision_kernels.h"

#include "runtime/cuda/cuda_backend.h"
#include "runtime/vision/vision_ops.h"

namespace glmq {
namespace {

// vision_ops.h and attention.h on host memory.
class CpuVisionKernels final : public VisionKernels {
 public:
  explicit CpuVisionKernels(int n_threads) : threads_(n_threads) {}

  void LayerNorm(const float* x, int64_t n_rows, int64_t dim, const float* weight,
                 const float* bias, float eps, float* out) override {
    vision::LayerNorm(x, n_rows, dim, weight, bias, eps, out, threads_);
  }
  void RmsNorm(const float* x, int64_t n_rows, int64_t dim, const float* weight, float eps,
               float* out) override {
    vision::RmsNorm(x, n_rows, dim, weight, eps, out, threads_);
  }
  void AddLayerNormed(float* x, float* y, const float* y_bias, int64_t n_rows, int64_t dim,
                      const float* weight, const float* bias, float eps) override {
    vision::AddLayerNormed(x, y, y_bias, n_rows, dim, weight, bias, eps, threads_);
  }
  void AddBias(float* y, const float* bias, int64_t n_rows, int64_t dim) override {
    vision::AddBias(y, bias, n_rows, dim, threads_);
  }
  void Add(float* x, const float* y, int64_t n) override { vision::Add(x, y, n, threads_); }
  void BiasGelu(float* y, const float* bias, int64_t n_rows, int64_t dim) override {
    vision::BiasGelu(y, bias, n_rows, dim, threads_);
  }
  void SiluMul(const float* gate, const float* up, int64_t n, float* out) override {
    vision::SiluMul(gate, up, n, out, threads_);
  }
  void Rope2dNeox(float* x, int64_t row_stride, int64_t n_rows, int64_t n_heads, int64_t head_dim,
                  const float* cos_sin) override {
    vision::Rope2dNeoxTable(x, row_stride, n_rows, n_heads, head_dim, cos_sin, threads_);
  }
  absl::Status GatherWindows(const float* x, int64_t dim, const int64_t* src_rows,
                             int64_t n_windows, int64_t merge, float* out) override {
    vision::GatherWindows(x, dim, src_rows, n_windows, merge, out, threads_);
    return absl::OkStatus();
  }
  void Attention(const float* qkv, const vision::QkvLayout& s, float* out) override {
    vision::Attention(qkv, s, out, threads_, &scratch_);
  }

 private:
  int threads_;
  vision::AttentionScratch scratch_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<VisionKernels>> MakeVisionKernels(Backend* backend) {
  if (backend->host_memory()) {
    return std::unique_ptr<VisionKernels>(new CpuVisionKernels(backend->n_threads()));
  }
  return MakeCudaVisionKernels(backend);
}

}  // namespace glmq
