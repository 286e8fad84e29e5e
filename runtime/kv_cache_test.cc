// The block KV cache: memory follows the positions reserved, whole blocks at
// a time, exactly KvLayout::BytesFor; blocks are zero-filled and released.
#include "runtime/kv_cache.h"

#include "gtest/gtest.h"
#include "runtime/cpu/cpu_backend.h"

namespace glmq {
namespace {

TEST(KvCache, GrowsInBlocksAsPositionsAreReserved) {
  CpuBackend be(1);
  const KvLayout layout{KvType::kInt8, 4, 2, 32};
  KvCache kv(&be, layout);
  EXPECT_EQ(kv.allocated_bytes(), 0u);
  for (int64_t n : {1, 255, 256, 257, 1000, 600}) {
    ASSERT_TRUE(kv.Reserve(n).ok());
    const int64_t held = std::max<int64_t>(n, 1000 * (n == 600));
    EXPECT_EQ(kv.allocated_bytes(), layout.BytesFor(held)) << n;
    EXPECT_EQ(kv.capacity(), layout.BlocksFor(held) * 256) << n;
  }
  const KvCacheView v = kv.View(3);
  EXPECT_EQ(v.n_blocks, 4);
  EXPECT_EQ(v.layer, 3);
  const uint8_t* b = static_cast<const uint8_t*>(v.blocks[3]);
  for (uint64_t i = 0; i < layout.BlockBytes(); ++i) ASSERT_EQ(b[i], 0) << i;
  kv.Release();
  EXPECT_EQ(kv.allocated_bytes(), 0u);
  EXPECT_EQ(kv.capacity(), 0);
}

}  // namespace
}  // namespace glmq
