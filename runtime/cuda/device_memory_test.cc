// The device-memory description (device_memory.h) the backend sizes its
// scratch with and the planner adds up.
#include "runtime/cuda/device_memory.h"

#include "gtest/gtest.h"

namespace glmq::cuda {
namespace {

TEST(DeviceMemory, GemmScratch) {
  // GEMV sizes need none; f32 weights are multiplied in place.
  EXPECT_EQ(GemmScratchBytes(GemmOperand::kQuant, 4096, 4096, kGemvMaxTokens), 0u);
  EXPECT_EQ(GemmScratchBytes(GemmOperand::kF32, 4096, 4096, 512), 0u);
  // bf16: the activations in bf16 only.
  EXPECT_EQ(GemmScratchBytes(GemmOperand::kBF16, 27392, 4096, 512), 512u * 4096 * 2);
  // Quantized: activations + a slice of at most 64 MiB of bf16 rows
  // (GLM-4-9B ffn_gate_up: 27392 rows of 4096 -> 8192 rows per slice).
  EXPECT_EQ(GemmSliceRows(GemmOperand::kQuant, 27392, 4096), 8192);
  EXPECT_EQ(GemmScratchBytes(GemmOperand::kQuant, 27392, 4096, 512), 512u * 4096 * 2 + (64u << 20));
  // A matrix smaller than a slice is decoded whole.
  EXPECT_EQ(GemmSliceRows(GemmOperand::kQuant, 100, 4096), 100);
  // f16: f32 activations and f32 slices; 256-byte aligned activations.
  EXPECT_EQ(GemmActivationBytes(GemmOperand::kF16, 3, 9), 256u);
  EXPECT_EQ(GemmScratchBytes(GemmOperand::kF16, 2, 3, 9), 256u + 2 * 3 * 4);
}

TEST(DeviceMemory, AttentionPartialsFollowThePlan) {
  // GLM-4-9B decode on 132 SMs: 66 splits (specs/vram.md §8), 1.1 MB.
  EXPECT_EQ(AttentionPartialBytes(1, 32, 2, 128, 131072, 132), 32u * 66 * 130 * 4);
  EXPECT_EQ(AttentionPartialBytes(1, 32, 2, 128, 10, 132), 32u * 1 * 130 * 4);  // one tile
}

TEST(DeviceMemory, AllocationRounding) {
  AllocationTally t;
  EXPECT_EQ(t.device_bytes(), 0u);
  t.Add(10u << 20);  // 10 MiB: exact pages
  EXPECT_EQ(t.device_bytes(), 10u << 20);
  t.Add((5u << 20) + 1);  // rounds up to 6 MiB
  EXPECT_EQ(t.device_bytes(), 16u << 20);
  t.Add(100, 3);  // small ones share one page
  EXPECT_EQ(t.requested(), (15u << 20) + 1 + 300);
  EXPECT_EQ(t.device_bytes(), 18u << 20);
}

}  // namespace
}  // namespace glmq::cuda
