// A build without CUDA (GLMQ_CUDA off): no devices.
#include "absl/strings/str_cat.h"
#include "runtime/cuda/cuda_backend.h"
#include "runtime/vision/vision_kernels.h"

namespace glmq {

int CudaDeviceCount() { return 0; }

absl::StatusOr<std::unique_ptr<Backend>> MakeCudaBackend(int index) {
  return absl::FailedPreconditionError(absl::StrCat(
      "cuda:", index, ": this glmq was built without CUDA (configure with -DGLMQ_CUDA=ON "
      "where nvcc is installed)"));
}

absl::StatusOr<std::unique_ptr<VisionKernels>> MakeCudaVisionKernels(Backend* backend) {
  return absl::FailedPreconditionError(
      absl::StrCat(backend->name(), ": this glmq was built without CUDA; no vision kernels"));
}

}  // namespace glmq
