// The vision towers' ops on the CUDA backend (runtime/vision/vision_kernels.h):
// kernels_vision.cu for the vision-only ops, the backend's own kernels where
// they fit (bias, residual add, RMSNorm), on the backend's stream, errors
// recorded like the backend's other void ops.
#include <string>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "runtime/cuda/cuda_backend.h"
#include "runtime/cuda/cuda_backend_impl.h"
#include "runtime/cuda/kernels_vision.h"
#include "runtime/vision/vision_kernels.h"

namespace glmq {
namespace cuda {

class CudaVisionKernels final : public VisionKernels {
 public:
  explicit CudaVisionKernels(CudaBackend* be) : be_(*be) {}
  ~CudaVisionKernels() override {
    be_.Use();
    if (rows_ != nullptr) {
      cudaStreamSynchronize(be_.stream_);
      cudaFree(rows_);
    }
  }

  void LayerNorm(const float* x, int64_t n_rows, int64_t dim, const float* weight,
                 const float* bias, float eps, float* out) override {
    Norm(x, nullptr, n_rows, dim, weight, bias, eps, out, nullptr, "LayerNorm");
  }
  void RmsNorm(const float* x, int64_t n_rows, int64_t dim, const float* weight, float eps,
               float* out) override {
    be_.RmsNorm(x, weight, n_rows, dim, eps, out);
  }
  void AddLayerNormed(float* x, float* y, const float* y_bias, int64_t n_rows, int64_t dim,
                      const float* weight, const float* bias, float eps) override {
    Norm(y, y_bias, n_rows, dim, weight, bias, eps, y, x, "AddLayerNormed");
  }
  void AddBias(float* y, const float* bias, int64_t n_rows, int64_t dim) override {
    be_.AddBias(y, bias, n_rows, dim);
  }
  void Add(float* x, const float* y, int64_t n) override { be_.Add(x, y, n); }
  void BiasGelu(float* y, const float* bias, int64_t n_rows, int64_t dim) override {
    be_.Use();
    const float* b = Mirror(bias, dim);
    if (bias != nullptr && b == nullptr) return;
    be_.Check(LaunchBiasGelu(y, b, n_rows, dim, be_.stream_),
              [&] { return absl::StrCat("vision BiasGelu [", n_rows, ", ", dim, "]"); });
  }
  void SiluMul(const float* gate, const float* up, int64_t n, float* out) override {
    be_.Use();
    be_.Check(LaunchSiluMul(gate, up, n, out, be_.stream_),
              [&] { return absl::StrCat("vision SiluMul [", n, "]"); });
  }
  void Rope2dNeox(float* x, int64_t row_stride, int64_t n_rows, int64_t n_heads, int64_t head_dim,
                  const float* cos_sin) override {
    be_.Use();
    be_.Check(LaunchRope2dNeox(x, row_stride, n_rows, n_heads, head_dim, cos_sin, be_.stream_),
              [&] {
                return absl::StrCat("vision Rope2dNeox [", n_rows, " rows, ", n_heads, " heads of ",
                                    head_dim, "]");
              });
  }
  absl::Status GatherWindows(const float* x, int64_t dim, const int64_t* src_rows,
                             int64_t n_windows, int64_t merge, float* out) override;
  void Attention(const float* qkv, const vision::QkvLayout& s, float* out) override {
    be_.Use();
    be_.Check(
        LaunchVisionAttention(qkv, s.n_rows, s.n_heads, s.head_dim, s.row_stride, out, be_.stream_),
        [&] {
          return absl::StrCat("vision attention [", s.n_rows, " rows, ", s.n_heads, " heads of ",
                              s.head_dim, "] (head_dim <= ", kMaxVisionHeadDim, ")");
        });
  }

 private:
  // The device mirror of a host vector (null for null); null after
  // recording the error.
  const float* Mirror(const float* host, int64_t n) {
    if (host == nullptr) return nullptr;
    absl::StatusOr<const float*> d = be_.weights_->Vector(host, n);
    if (!d.ok()) {
      be_.Check(d.status());
      return nullptr;
    }
    return *d;
  }
  void Norm(const float* x, const float* x_bias, int64_t n_rows, int64_t dim, const float* weight,
            const float* bias, float eps, float* out, float* residual, const char* op) {
    be_.Use();
    const float* xb = Mirror(x_bias, dim);
    const float* w = Mirror(weight, dim);
    const float* b = Mirror(bias, dim);
    if ((x_bias != nullptr && xb == nullptr) || w == nullptr || (bias != nullptr && b == nullptr)) {
      return;
    }
    be_.Check(LaunchVisionLayerNorm(x, xb, w, b, n_rows, dim, eps, out, residual, be_.stream_),
              [&] { return absl::StrCat("vision ", op, " [", n_rows, ", ", dim, "]"); });
  }

  CudaBackend& be_;
  int64_t* rows_ = nullptr;  // device copy of GatherWindows' src_rows
  int64_t rows_cap_ = 0;
};

absl::Status CudaVisionKernels::GatherWindows(const float* x, int64_t dim, const int64_t* src_rows,
                                              int64_t n_windows, int64_t merge, float* out) {
  be_.Use();
  const int64_t n = n_windows * merge * merge;
  const std::string what = absl::StrCat("vision GatherWindows [", n_windows, " windows of ", merge,
                                        "x", merge, ", dim ", dim, "]");
  if (n > rows_cap_) {
    GLMQ_RETURN_IF_ERROR(CudaStatus(cudaStreamSynchronize(be_.stream_), what));
    cudaFree(rows_);
    rows_ = nullptr;
    rows_cap_ = 0;
    GLMQ_ASSIGN_OR_RETURN(void* p, DeviceAlloc(n * sizeof(int64_t), what));
    rows_ = static_cast<int64_t*>(p);
    rows_cap_ = n;
  }
  // Pageable source: the copy is staged before cudaMemcpyAsync returns.
  GLMQ_RETURN_IF_ERROR(CudaStatus(
      cudaMemcpyAsync(rows_, src_rows, n * sizeof(int64_t), cudaMemcpyHostToDevice, be_.stream_),
      what));
  return CudaStatus(LaunchGatherWindows(x, dim, rows_, n_windows, merge, out, be_.stream_), what);
}

}  // namespace cuda

absl::StatusOr<std::unique_ptr<VisionKernels>> MakeCudaVisionKernels(Backend* backend) {
  auto* be = dynamic_cast<cuda::CudaBackend*>(backend);
  if (be == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("vision tower: backend ", backend->name(),
                     " keeps device memory but is "
                     "not the CUDA backend; no vision kernels for it"));
  }
  return std::unique_ptr<VisionKernels>(new cuda::CudaVisionKernels(be));
}

}  // namespace glmq
