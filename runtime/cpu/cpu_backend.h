// The CPU implementation of Backend (runtime/backend.h): dense matmuls from
// the kernel table of the active SIMD level (kernels.h), OpenMP over output
// rows; quantized weights go to QuantMatMul (runtime/cpu/qmatmul.h).
// Not thread-safe: one forward pass at a time per object (it parallelizes
// internally).
#pragma once

#include <memory>

#include "runtime/backend.h"
#include "runtime/cpu/kernels.h"

namespace glmq {

class CpuBackend : public Backend {
 public:
  // n_threads <= 0: OpenMP's default (omp_get_max_threads()).
  explicit CpuBackend(int n_threads = 0, const cpu::DenseKernels* kernels = nullptr);

  std::string name() const override;
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
  // The tiled attention of runtime/cpu/kv_attention.h at the kernels' level.
  void Attention(const float* q, int64_t q_stride, int64_t n_tokens, const AttentionShape& shape,
                 int64_t pos0, const KvCacheView& cache, float* scratch, float* out) override;
  void SwiGlu(const float* gate_up, int64_t n_tokens, int64_t ffn, float* out) override;
  int n_threads() const override { return n_threads_; }

 private:
  absl::Status MatMulKept(const WeightView& w, const float* x, int64_t n_tokens, float* y);

  int n_threads_;
  const cpu::DenseKernels* k_;
};

}  // namespace glmq
