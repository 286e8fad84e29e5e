// The CudaBackend class (cuda_backend.h gives the factory). Internal to
// runtime/cuda: the ops live in cuda_backend.cc, MatMul and cuBLAS in
// cuda_matmul.cc.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/backend.h"
#include "runtime/cuda/cuda_status.h"
#include "runtime/cuda/kernels.h"
#include "runtime/cuda/weight_store.h"

namespace glmq::cuda {

class CudaBackend final : public Backend {
 public:
  static absl::StatusOr<std::unique_ptr<CudaBackend>> Create(int index);
  ~CudaBackend() override;

  std::string name() const override { return name_; }
  absl::Status MatMul(const WeightView& w, const float* x, int64_t n_tokens, float* y) override;
  absl::Status Embedding(const WeightView& table, const int32_t* ids, int64_t n,
                         float* out) override;
  void RmsNorm(const float* x, const float* weight, int64_t n_tokens, int64_t dim, float eps,
               float* out) override;
  void AddBias(float* y, const float* bias, int64_t n_tokens, int64_t dim) override;
  void Add(float* x, const float* y, int64_t n) override;
  void Rope(float* x, int64_t row_stride, int64_t n_tokens, int64_t n_heads, int64_t head_dim,
            int64_t rope_dims, int64_t pos0, double base) override;
  void RopePositions(float* x, int64_t row_stride, int64_t n_tokens, int64_t n_heads,
                     int64_t head_dim, int64_t rope_dims, const int64_t* positions,
                     absl::Span<const int64_t> sections, double base) override;
  absl::StatusOr<void*> AllocateKvBlock(uint64_t bytes) override;
  void FreeKvBlock(void* block, uint64_t bytes) override;
  uint64_t AvailableMemoryBytes() const override;
  void WriteKv(const float* k, const float* v, int64_t row_stride, int64_t n_tokens,
               const AttentionShape& shape, int64_t pos0, const KvCacheView& cache) override;
  void Attention(const float* q, int64_t q_stride, int64_t n_tokens, const AttentionShape& shape,
                 int64_t pos0, const KvCacheView& cache, float* scratch, float* out) override;
  void SwiGlu(const float* gate_up, int64_t n_tokens, int64_t ffn, float* out) override;
  int n_threads() const override { return 1; }

  bool host_memory() const override { return false; }
  absl::StatusOr<float*> AllocateFloats(int64_t n) override;
  void FreeFloats(float* p) override;
  absl::Status CopyToHost(const float* src, int64_t n, float* dst) override;
  absl::Status CopyFromHost(const float* src, int64_t n, float* dst) override;
  absl::Status Sync() override;
  absl::Status PrepareWeight(const WeightView& w) override;

  int device() const { return device_; }
  uint64_t weight_bytes() const { return weights_->device_bytes(); }

 private:
  friend class CudaVisionKernels;  // the vision towers' ops (cuda_vision.cc) share the stream
  CudaBackend() = default;
  // Makes this backend's device current (one process may drive several).
  void Use() const { cudaSetDevice(device_); }
  // The recorded failure of a void op (then cleared).
  absl::Status TakeSticky() { return std::exchange(sticky_, absl::OkStatus()); }
  // Records the first failure of a void op; `what` builds its description.
  template <typename F>
  void Check(cudaError_t e, F&& what) {
    if (e != cudaSuccess && sticky_.ok()) sticky_ = CudaStatus(e, what());
  }
  void Check(const absl::Status& s) {
    if (!s.ok() && sticky_.ok()) sticky_ = s;
  }
  // A device buffer of at least `bytes` that grows (slot 0: GEMM scratch,
  // 1: attention partials, 2: token ids, 3: KV block tables, 4: RoPE angles).
  absl::StatusOr<void*> Scratch(int slot, uint64_t bytes);
  absl::Status Gemm(const DeviceWeight& w, const WeightView& view, const float* x, int64_t n,
                    float* y);
  absl::Status GemmSlice(const void* a, cudaDataType at, const void* b, cudaDataType bt,
                         int64_t r0, int64_t r1, const DeviceWeight& w, int64_t n, float* y);
  // The device view of one layer's cache (uploads its block table when it
  // changed).
  absl::StatusOr<DevKv> DeviceKv(const KvCacheView& cache, const AttentionShape& s);

  int device_ = 0;
  int sms_ = 1;
  std::string name_;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  std::unique_ptr<WeightStore> weights_;
  absl::Status sticky_;
  struct Buf {
    void* p = nullptr;
    uint64_t bytes = 0;
  };
  Buf scratch_[5];
  std::vector<const void*> kv_table_shadow_;  // what the device table holds
};

}  // namespace glmq::cuda
