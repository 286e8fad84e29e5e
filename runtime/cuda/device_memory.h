// The device memory of the CUDA runtime, term by term (specs/vram.md §8):
// the one description that the backend sizes its allocations with and that
// the planner (plan/cuda_memory.h) adds up to predict a run, so that
// `glmq plan --measure` compares a measurement with exactly what the code
// allocates. Plain C++ (glmq_cuda_host): tested on every machine.
#pragma once

#include <cstdint>

#include "runtime/cuda/attention_plan.h"

namespace glmq::cuda {

// Tokens up to which MatMul runs the GEMV kernels (kernels.h
// kMaxGemvTokens); above, a cuBLAS GEMM over the scratch below.
inline constexpr int64_t kGemvMaxTokens = 8;
// Bytes of one decoded weight slice (the GEMM's A operand) at most.
inline constexpr uint64_t kGemmSliceBytes = 64ull << 20;

// What a GEMM's A operand is made from.
enum class GemmOperand { kF32, kF16, kBF16, kQuant };

// Rows of the weight decoded per slice (the whole matrix for bf16 and f32,
// which cuBLAS reads in place).
int64_t GemmSliceRows(GemmOperand op, int64_t rows, int64_t cols);
// Scratch slot 0 for a GEMM of n tokens: the activations converted to bf16
// (f32 for f16 weights), 256-byte aligned, then one decoded slice; 0 for f32
// weights and for n <= kGemvMaxTokens.
uint64_t GemmScratchBytes(GemmOperand op, int64_t rows, int64_t cols, int64_t n);
// The activations' part of it (the slice starts there).
uint64_t GemmActivationBytes(GemmOperand op, int64_t cols, int64_t n);

// Scratch slot 1: the split-key attention partials of n queries over n_keys
// keys on a device with `sms` multiprocessors.
inline uint64_t AttentionPartialBytes(int64_t n, int64_t n_heads, int64_t n_kv_heads,
                                      int64_t head_dim, int64_t n_keys, int64_t sms) {
  return static_cast<uint64_t>(
             PlanAttention(n, n_heads, n_kv_heads, head_dim, n_keys, sms).partial_floats) *
         4;
}
// Scratch slot 2: token ids of an embedding call; slot 3: the KV block table.
inline uint64_t TokenIdBytes(int64_t n) { return static_cast<uint64_t>(n) * 4; }
inline uint64_t BlockTableBytes(int64_t n_blocks) {
  return static_cast<uint64_t>(n_blocks > 0 ? n_blocks : 1) * 8;
}
// Slots 5 and 6: a linear with kept f16 columns (glmq quantize
// --keep-outliers) on n tokens: its input with those columns zeroed (padded
// to 64 floats) followed by the gathered columns, then the kept product.
inline uint64_t KeptZeroedFloats(int64_t n, int64_t cols) {
  return static_cast<uint64_t>(n * cols + 63) / 64 * 64;
}
inline uint64_t KeptSplitBytes(int64_t n, int64_t cols, int64_t n_kept) {
  return (KeptZeroedFloats(n, cols) + static_cast<uint64_t>(n * n_kept)) * 4;
}
inline uint64_t KeptProductBytes(int64_t n, int64_t rows) {
  return static_cast<uint64_t>(n * rows) * 4;
}
// A norm or bias vector of n values, mirrored in f32.
inline uint64_t VectorMirrorBytes(int64_t n) { return static_cast<uint64_t>(n) * 4; }

// The allocator's rounding (a model, checked by plan --measure): an
// allocation of at least kCudaLargeAlloc bytes takes whole kCudaAllocPage
// pages of its own; smaller ones are cut from shared pages at
// kCudaSmallAlign alignment (AllocationPages adds those up).
inline constexpr uint64_t kCudaAllocPage = 2ull << 20;
inline constexpr uint64_t kCudaLargeAlloc = 1ull << 20;
inline constexpr uint64_t kCudaSmallAlign = 512;

// Running total of a set of allocations under that model.
class AllocationTally {
 public:
  void Add(uint64_t bytes, int64_t count = 1);
  uint64_t requested() const { return requested_; }
  // Device bytes they take: large ones page-rounded, small ones packed
  // into pages.
  uint64_t device_bytes() const;

 private:
  uint64_t requested_ = 0, large_ = 0, small_ = 0;
};

}  // namespace glmq::cuda
