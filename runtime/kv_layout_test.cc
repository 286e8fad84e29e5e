// The KV layout (specs/vram.md §2): bytes per token and per block, the
// regions inside a block, and the int8 quantizer.
#include "runtime/kv_layout.h"

#include <cmath>
#include <set>
#include <vector>

#include "core/dtype.h"
#include "gtest/gtest.h"

namespace glmq {
namespace {

pb::HParams Chat1m() {  // glm-4-9b-chat-1m's attention sizes
  pb::HParams hp;
  hp.set_n_layers(40);
  hp.set_n_kv_heads(4);
  hp.set_head_dim(128);
  return hp;
}

TEST(KvLayout, BytesPerTokenAsTheSpecSays) {
  struct Row {
    KvType type;
    uint64_t bytes;
  };
  for (const Row& r : {Row{KvType::kBF16, 81920}, Row{KvType::kInt8, 41600},
                       Row{KvType::kF32, 163840}, Row{KvType::kF16, 81920}}) {
    absl::StatusOr<KvLayout> l = MakeKvLayout(Chat1m(), r.type);
    ASSERT_TRUE(l.ok()) << l.status();
    EXPECT_EQ(l->BytesPerToken(), r.bytes) << Traits(r.type).name;
    EXPECT_EQ(l->BlockBytes(), r.bytes * kKvBlockTokens);
  }
  // 80 GiB of bf16 KV at 1M positions.
  EXPECT_EQ(MakeKvLayout(Chat1m(), KvType::kBF16)->BytesFor(1 << 20), 80ull << 30);
}

TEST(KvLayout, WholeBlocksAreAllocated) {
  const KvLayout l = *MakeKvLayout(Chat1m(), KvType::kInt8);
  EXPECT_EQ(l.BytesFor(0), 0u);
  EXPECT_EQ(l.BytesFor(1), l.BlockBytes());
  EXPECT_EQ(l.BytesFor(256), l.BlockBytes());
  EXPECT_EQ(l.BytesFor(257), 2 * l.BlockBytes());
  EXPECT_EQ(l.BytesFor(32768), 32768 * l.BytesPerToken());
}

TEST(KvLayout, RegionsTileTheBlockExactly) {
  for (KvType type : {KvType::kBF16, KvType::kInt8, KvType::kF32}) {
    const KvLayout l = *MakeKvLayout(Chat1m(), type);
    std::set<uint64_t> starts;
    const uint64_t values = l.block_tokens * l.head_dim * l.value_bytes();
    uint64_t end = 0;
    for (int64_t layer = 0; layer < l.n_layers; ++layer)
      for (int kind = 0; kind < 2; ++kind)
        for (int64_t h = 0; h < l.n_kv_heads; ++h) {
          EXPECT_TRUE(starts.insert(l.ValuesOffset(layer, kind, h)).second);
          end = std::max(end, l.ValuesOffset(layer, kind, h) + values);
          if (l.scaled()) {
            EXPECT_GE(l.ScalesOffset(layer, kind, h), end - values);
            end = std::max(end, l.ScalesOffset(layer, kind, h) + l.block_tokens * 2);
          }
        }
    EXPECT_EQ(end, l.BlockBytes()) << Traits(type).name;
  }
}

TEST(KvLayout, RefusesBadSizes) {
  pb::HParams hp = Chat1m();
  hp.set_n_kv_heads(0);
  absl::StatusOr<KvLayout> l = MakeKvLayout(hp, KvType::kBF16);
  ASSERT_FALSE(l.ok());
  EXPECT_NE(l.status().message().find("n_kv_heads"), std::string::npos);
  EXPECT_FALSE(MakeKvLayout(Chat1m(), KvType::kBF16, 100).ok());
}

TEST(KvLayout, ParsesTheFlagValues) {
  EXPECT_EQ(*ParseKvType("bf16"), KvType::kBF16);
  EXPECT_EQ(*ParseKvType("int8"), KvType::kInt8);
  EXPECT_EQ(*ParseKvType("f32"), KvType::kF32);
  absl::StatusOr<KvType> bad = ParseKvType("q4");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("bf16"), std::string::npos) << bad.status();
}

TEST(KvInt8, SymmetricWithOneF16ScalePerVector) {
  const std::vector<float> x = {0.5f, -1.27f, 0.0f, 1.0f, -0.004f, 1.2699f};
  std::vector<int8_t> q(x.size());
  uint16_t scale;
  QuantizeKvInt8(x.data(), x.size(), q.data(), &scale);
  const float s = F16ToF32(scale);
  EXPECT_EQ(scale, F32ToF16(1.27f / 127));
  EXPECT_EQ(q[1], -127);
  EXPECT_EQ(q[2], 0);
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(q[i], static_cast<int8_t>(std::round(x[i] / s))) << i;
    EXPECT_LE(std::fabs(q[i] * s - x[i]), s / 2 + 1e-7f) << i;
  }
  const std::vector<float> zero(8, 0.f);
  q.assign(zero.size(), 1);
  QuantizeKvInt8(zero.data(), zero.size(), q.data(), &scale);
  EXPECT_EQ(scale, 0);
  for (int8_t v : q) EXPECT_EQ(v, 0);
}

}  // namespace
}  // namespace glmq
