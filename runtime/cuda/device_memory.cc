#include "runtime/cuda/device_memory.h"

#include <algorithm>

namespace glmq::cuda {
namespace {

uint64_t RoundUp(uint64_t v, uint64_t m) { return (v + m - 1) / m * m; }

}  // namespace

int64_t GemmSliceRows(GemmOperand op, int64_t rows, int64_t cols) {
  if (op == GemmOperand::kF32 || op == GemmOperand::kBF16) return rows;
  const int64_t row_bytes = cols * (op == GemmOperand::kF16 ? 4 : 2);
  return std::clamp<int64_t>(static_cast<int64_t>(kGemmSliceBytes) / row_bytes, 1, rows);
}

uint64_t GemmActivationBytes(GemmOperand op, int64_t cols, int64_t n) {
  if (op == GemmOperand::kF32) return 0;
  const uint64_t elem = op == GemmOperand::kF16 ? 4 : 2;
  return RoundUp(static_cast<uint64_t>(n * cols) * elem, 256);
}

uint64_t GemmScratchBytes(GemmOperand op, int64_t rows, int64_t cols, int64_t n) {
  if (op == GemmOperand::kF32 || n <= kGemvMaxTokens) return 0;
  const uint64_t elem = op == GemmOperand::kF16 ? 4 : 2;
  const uint64_t x = GemmActivationBytes(op, cols, n);
  if (op == GemmOperand::kBF16) return x;
  return x + static_cast<uint64_t>(GemmSliceRows(op, rows, cols)) * cols * elem;
}

void AllocationTally::Add(uint64_t bytes, int64_t count) {
  const uint64_t b = std::max<uint64_t>(bytes, 1);
  requested_ += bytes * count;
  if (b >= kCudaLargeAlloc) {
    large_ += RoundUp(b, kCudaAllocPage) * count;
  } else {
    small_ += RoundUp(b, kCudaSmallAlign) * count;
  }
}

uint64_t AllocationTally::device_bytes() const { return large_ + RoundUp(small_, kCudaAllocPage); }

}  // namespace glmq::cuda
