// The op set the GLM-4 forward pass (runtime/model.cc) is written against.
// The CPU backend (runtime/cpu/cpu_backend.h) implements it; a CUDA backend
// slots in by implementing the same interface over device buffers.
//
// All activations are f32, row-major, one row per token. Weights are
// WeightViews (schema/weight.h): zero-copy, checked once when loaded. Accumulation is f32 everywhere
// (GLM-4 overflows f16 accumulators).
#pragma once

#include <algorithm>
#include <cstdint>
#include <new>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/dtype.h"
#include "runtime/attention_tiling.h"
#include "runtime/kv_layout.h"
#include "schema/glmq.pb.h"
#include "schema/weight.h"

namespace glmq {

// Shape of the attention of one layer.
struct AttentionShape {
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;  // query heads h use kv head h / (n_heads / n_kv_heads)
  int64_t head_dim = 0;
};

// One layer of one sequence's KV cache (runtime/kv_cache.h): blocks of
// layout->block_tokens positions, each allocated by the backend that reads
// it (AllocateKvBlock: host memory for the CPU, device memory for a GPU) and
// laid out as runtime/kv_layout.h says. The view itself is host data.
struct KvCacheView {
  const KvLayout* layout = nullptr;
  void* const* blocks = nullptr;  // [n_blocks]; block b: positions [b B, (b + 1) B)
  int64_t n_blocks = 0;
  int64_t layer = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;

  // y[t, r] = sum_c W[r, c] * x[t, c]; x: [n_tokens, w.cols], y: [n_tokens,
  // w.rows]. Error (naming the tensor) for an encoding this backend cannot
  // multiply.
  virtual absl::Status MatMul(const WeightView& w, const float* x, int64_t n_tokens,
                              float* y) = 0;
  // out[t] = table[ids[t]] as f32; out: [n, table.cols]. Error for an id
  // outside [0, table.rows) or an encoding it cannot read.
  virtual absl::Status Embedding(const WeightView& table, const int32_t* ids, int64_t n,
                                 float* out) = 0;
  // out[t] = x[t] * rsqrt(mean(x[t]^2) + eps) * weight; x, out: [n_tokens, dim]
  // (out may alias x); weight: [dim] f32.
  virtual void RmsNorm(const float* x, const float* weight, int64_t n_tokens, int64_t dim,
                       float eps, float* out) = 0;
  // y[t, :] += bias; y: [n_tokens, dim].
  virtual void AddBias(float* y, const float* bias, int64_t n_tokens, int64_t dim) = 0;
  // x[i] += y[i] for i < n.
  virtual void Add(float* x, const float* y, int64_t n) = 0;
  // GLM-4 RoPE in place on n_heads heads per row, row t at position pos0 + t:
  // the first rope_dims dims of each head rotate as interleaved pairs
  // (x[2i], x[2i+1]) by angle pos * base^(-2i / rope_dims); the rest pass.
  // x: rows of `row_stride` floats, heads at x[t * row_stride + h * head_dim].
  virtual void Rope(float* x, int64_t row_stride, int64_t n_tokens, int64_t n_heads,
                    int64_t head_dim, int64_t rope_dims, int64_t pos0, double base) = 0;
  // The same rotation with explicit positions (multimodal sequences):
  // positions [3, n_tokens] are the M-RoPE streams t | h | w; pair i takes
  // its position from the stream whose section holds it (sections: pairs per
  // stream, e.g. GLM-4.1V's mrope_section; empty: stream 0 for every pair).
  virtual void RopePositions(float* x, int64_t row_stride, int64_t n_tokens, int64_t n_heads,
                             int64_t head_dim, int64_t rope_dims, const int64_t* positions,
                             absl::Span<const int64_t> sections, double base) = 0;
  // KV cache memory: one zero-filled block of `bytes` in this backend's
  // memory, aligned for vector loads; ResourceExhausted (naming the bytes)
  // when it cannot allocate. Blocks go back through FreeKvBlock with the
  // same size.
  virtual absl::StatusOr<void*> AllocateKvBlock(uint64_t bytes) = 0;
  virtual void FreeKvBlock(void* block, uint64_t bytes) = 0;
  // Bytes this backend could still allocate now (the CPU: MemAvailable of
  // /proc/meminfo; a GPU: free device memory); 0 if it cannot tell.
  virtual uint64_t AvailableMemoryBytes() const = 0;
  // Stores K and V rows of n_tokens tokens at positions [pos0, pos0 + n)
  // of cache (whose blocks must cover them), converted to the layout's type
  // (int8: QuantizeKvInt8 per vector). k, v: rows of `row_stride` floats
  // holding n_kv_heads * head_dim values.
  virtual void WriteKv(const float* k, const float* v, int64_t row_stride, int64_t n_tokens,
                       const AttentionShape& shape, int64_t pos0, const KvCacheView& cache) = 0;
  // Causal attention for queries at positions [pos0, pos0 + n_tokens) over
  // cache positions [0, pos0 + t]: softmax(q k / sqrt(head_dim)) v, f32
  // arithmetic. q: rows of `q_stride` floats, [n_heads, head_dim] each; out:
  // [n_tokens, n_heads * head_dim]. `scratch`: AttentionScratchFloats(
  // {n_heads, n_kv_heads, head_dim}, n_threads()) floats
  // (runtime/attention_tiling.h), whatever the context length.
  virtual void Attention(const float* q, int64_t q_stride, int64_t n_tokens,
                         const AttentionShape& shape, int64_t pos0, const KvCacheView& cache,
                         float* scratch, float* out) = 0;
  // out[t, i] = silu(gu[t, i]) * gu[t, ffn + i]; gu: [n_tokens, 2 ffn] rows
  // gate|up, out: [n_tokens, ffn].
  virtual void SwiGlu(const float* gate_up, int64_t n_tokens, int64_t ffn, float* out) = 0;
  virtual int n_threads() const = 0;

  // --- Where the forward pass computes. The CPU keeps these defaults (host
  // memory, nothing to upload); a device backend (runtime/cuda/) owns device
  // buffers: the session allocates its working buffers here and moves data
  // in and out with the copies, and every pointer the ops above receive
  // (activations, KV) is then device memory, except weights and the f32
  // norm/bias vectors, which stay host data the backend mirrors.
  virtual bool host_memory() const { return true; }
  // n zero-initialised floats in this backend's memory; ResourceExhausted
  // (naming the bytes) when it cannot allocate. Freed with FreeFloats.
  virtual absl::StatusOr<float*> AllocateFloats(int64_t n) {
    return new (std::nothrow) float[n > 0 ? n : 1]();
  }
  virtual void FreeFloats(float* p) { delete[] p; }
  // dst[i] = src[i], i < n; src or dst is this backend's memory.
  virtual absl::Status CopyToHost(const float* src, int64_t n, float* dst) {
    std::copy(src, src + n, dst);
    return absl::OkStatus();
  }
  virtual absl::Status CopyFromHost(const float* src, int64_t n, float* dst) {
    std::copy(src, src + n, dst);
    return absl::OkStatus();
  }
  // Waits for the queued work and returns the first error of the void ops
  // since the last call (a device fault, a shape a kernel cannot take),
  // naming the op and its shapes. OK on the CPU.
  virtual absl::Status Sync() { return absl::OkStatus(); }
  // Called once per matrix or table by Model::Load: a device backend uploads
  // it (in its own layout) here; the CPU reads the mapped file directly.
  virtual absl::Status PrepareWeight(const WeightView& w) { return absl::OkStatus(); }
};

}  // namespace glmq
