// Attention launch planning: decode splits the keys to fill the GPU,
// prefill tiles the queries; the partial buffer and shared memory are
// sized from the same plan.
#include "runtime/cuda/attention_plan.h"

#include "gtest/gtest.h"

namespace glmq::cuda {
namespace {

TEST(AttentionPlanTest, DecodeSplitsKeysAcrossTheGpu) {
  // GLM-4-9B decode at 32K on 132 SMs: 2 kv groups of 16 heads.
  const AttnPlan p = PlanAttention(1, 32, 2, 128, 32768, 132);
  EXPECT_EQ(p.query_tile, 1);
  EXPECT_EQ(p.heads_per_block, 8);
  EXPECT_EQ(p.head_blocks, 2);
  EXPECT_EQ(p.grid_y, 4);
  EXPECT_EQ(p.n_splits, 66);  // 2 blocks per SM
  EXPECT_EQ(p.partial_floats, 32 * 66 * 130);
  EXPECT_EQ(p.smem_bytes, 4 * (2 * 32 * 128 + 8 * 128));
}

TEST(AttentionPlanTest, ShortContextsNeverSplitBeyondTheirKeyTiles) {
  const AttnPlan p = PlanAttention(1, 32, 2, 128, 40, 132);
  EXPECT_EQ(p.n_splits, 2);  // 40 keys = 2 tiles of 32
  EXPECT_EQ(PlanAttention(1, 8, 2, 4, 1, 132).n_splits, 1);
}

TEST(AttentionPlanTest, PrefillTilesQueries) {
  const AttnPlan p = PlanAttention(256, 32, 2, 128, 256, 132);
  EXPECT_EQ(p.query_tile, 4);
  EXPECT_EQ(p.grid_x, 64);
  EXPECT_EQ(p.n_splits, 2);  // 256 blocks, 264 wanted
  EXPECT_LE(p.smem_bytes, 99 * 1024);  // fits every target (sm_86/89: 99 KiB)
  EXPECT_LE(PlanAttention(64, 64, 8, 256, 64, 132).smem_bytes, 99 * 1024);
}

}  // namespace
}  // namespace glmq::cuda
