// KV addressing of the CUDA kernels against specs/vram.md §2: the block
// layout's offsets, the last int8 scale ending the block, and the flat
// layout as one block.
#include "runtime/cuda/kv_device.h"

#include "gtest/gtest.h"
#include "runtime/kv_layout.h"

namespace glmq::cuda {
namespace {

TEST(KvDeviceTest, BlockLayoutOfGlm4_9bInt8) {
  constexpr int64_t L = 40, H = 2, D = 128, B = 256;
  // bytes/token int8: 2 * L * H * (D + 2) = 20,800 (specs/vram.md §2).
  const uint64_t block_bytes = 2 * L * H * (D + 2) * B;
  EXPECT_EQ(block_bytes / B, 20800u);
  const DevKv first = ForBlockLayout(KvElem::kInt8, L, H, D, B, 0);
  EXPECT_EQ(first.k_off, 0u);
  EXPECT_EQ(first.v_off, static_cast<uint64_t>(H * B * D));
  EXPECT_EQ(first.KHead(1), static_cast<uint64_t>(B * D));
  EXPECT_EQ(first.k_scale_off, static_cast<uint64_t>(2 * L * H * B * D));
  const DevKv last = ForBlockLayout(KvElem::kInt8, L, H, D, B, L - 1);
  EXPECT_EQ(last.VHead(H - 1) + B * D, static_cast<uint64_t>(2 * L * H * B * D));
  EXPECT_EQ(last.VScale(H - 1, B - 1) + 2, block_bytes);
  // K is stored transposed [D, B], V row-major [B, D].
  EXPECT_EQ(first.KIndex(3, 5), 5 * B + 3);
  EXPECT_EQ(first.VIndex(3, 5), 3 * D + 5);
}

TEST(KvDeviceTest, OffsetsAreKvLayouts) {
  pb::HParams hp;
  hp.set_n_layers(3);
  hp.set_n_heads(8);
  hp.set_n_kv_heads(2);
  hp.set_head_dim(64);
  for (KvType t : {KvType::kF32, KvType::kF16, KvType::kBF16, KvType::kInt8}) {
    const KvLayout l = MakeKvLayout(hp, t).value();
    for (int64_t layer = 0; layer < 3; ++layer) {
      const DevKv kv = ForBlockLayout(static_cast<KvElem>(static_cast<int>(t)), l.n_layers,
                                      l.n_kv_heads, l.head_dim, l.block_tokens, layer);
      EXPECT_EQ(KvElemBytes(kv.elem), l.value_bytes());
      for (int64_t h = 0; h < 2; ++h) {
        EXPECT_EQ(kv.KHead(h), l.ValuesOffset(layer, 0, h));
        EXPECT_EQ(kv.VHead(h), l.ValuesOffset(layer, 1, h));
        if (l.scaled()) {
          EXPECT_EQ(kv.KScale(h, 5), l.ScalesOffset(layer, 0, h) + 10);
          EXPECT_EQ(kv.VScale(h, 0), l.ScalesOffset(layer, 1, h));
        }
      }
    }
    EXPECT_EQ(ForBlockLayout(static_cast<KvElem>(static_cast<int>(t)), 3, 2, 64, 256, 2)
                      .VHead(1) + 256 * 64 * l.value_bytes() +
                  (l.scaled() ? 2u * 3 * 2 * 256 * 2 : 0u),
              l.BlockBytes());
  }
}

TEST(KvDeviceTest, Bf16BlocksHaveNoScales) {
  const DevKv kv = ForBlockLayout(KvElem::kBF16, 40, 2, 128, 256, 1);
  EXPECT_EQ(kv.head_bytes, 256u * 128 * 2);
  EXPECT_EQ(kv.k_off, 2u * 2 * kv.head_bytes);
  EXPECT_EQ(kv.scale_head_bytes, 0u);
  EXPECT_EQ(KvElemBytes(KvElem::kF32), 4);
}

TEST(KvDeviceTest, FlatLayoutIsOneBlock) {
  const DevKv kv = ForFlatLayout(KvElem::kF32, 4, 100);
  EXPECT_EQ(kv.n_blocks, 1);
  EXPECT_EQ(kv.block_tokens, 100);
  EXPECT_EQ(kv.KHead(1), 100u * 4 * 4);
  EXPECT_EQ(kv.KIndex(7, 2), 7 * 4 + 2);
  EXPECT_EQ(kv.VIndex(7, 2), 7 * 4 + 2);
}

}  // namespace
}  // namespace glmq::cuda
