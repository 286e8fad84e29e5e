// Device copies of a model's weights, made once (Backend::PrepareWeight at
// load, or at first use): quantized matrices repacked into the GPU layout
// (repack.h), dense ones copied as stored, streamed from the mapped file
// through a bounded pinned staging buffer (two halves of kStagingBytes / 2,
// so repacking one slice overlaps the copy of the previous one: the host
// holds the staging buffer, never a whole tensor). The f32 norm and bias
// vectors the session passes as host pointers are mirrored on first use.
// Device allocations check the free memory first and fail with
// ResourceExhausted naming the bytes needed and free.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <string>
#include <unordered_map>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "runtime/cuda/kernels.h"
#include "runtime/cuda/repack.h"
#include "schema/weight.h"

namespace glmq::cuda {

inline constexpr uint64_t kStagingBytes = 64ull << 20;

// cudaMalloc of `bytes` after checking cudaMemGetInfo: ResourceExhausted
// "<what> needs N bytes of device memory; F of T are free".
absl::StatusOr<void*> DeviceAlloc(uint64_t bytes, absl::string_view what);

struct DeviceWeight {
  bool quantized = false;
  DenseElem dense = DenseElem::kF32;  // dense only
  QuantW q;                           // quantized only (pointers into data)
  int64_t rows = 0, cols = 0;
  void* data = nullptr;
  uint64_t bytes = 0;
};

class WeightStore {
 public:
  explicit WeightStore(cudaStream_t stream) : stream_(stream) {}
  ~WeightStore();
  WeightStore(const WeightStore&) = delete;
  WeightStore& operator=(const WeightStore&) = delete;

  // The device copy of `w` (keyed by its bytes' address), uploaded on the
  // first call. Errors name the tensor.
  absl::StatusOr<const DeviceWeight*> Get(const WeightView& w);
  // The device mirror of n host floats (keyed by address).
  absl::StatusOr<const float*> Vector(const float* host, int64_t n);
  // Device bytes held (weights and vectors).
  uint64_t device_bytes() const { return device_bytes_; }

 private:
  absl::Status Upload(const WeightView& w, DeviceWeight* dw);
  absl::Status UploadDense(const WeightView& w, DeviceWeight* dw);
  absl::Status UploadQuant(const WeightView& w, const GpuQuantLayout& l, DeviceWeight* dw);
  // Half `i` of the staging buffer, once the copy that last used it is done.
  absl::StatusOr<uint8_t*> Staging(int i);
  absl::Status Copied(int i);  // records the event of half i

  cudaStream_t stream_;
  std::unordered_map<const void*, DeviceWeight> weights_;
  std::unordered_map<const float*, float*> vectors_;
  uint8_t* staging_ = nullptr;  // pinned, kStagingBytes
  cudaEvent_t events_[2] = {nullptr, nullptr};
  uint64_t device_bytes_ = 0;
};

}  // namespace glmq::cuda
