// Tensor-parallel VRAM per GPU (plan/tp.h) on the real GLM-4-9B-chat config:
// head and KV-head split, KV-head replication past 2 GPUs, weight shards
// that add up to the model (plus what is replicated), and the --gpu answer.
#include "plan/tp.h"

#include <string>

#include "convert/hf_config.h"
#include "gtest/gtest.h"
#include "plan/memory.h"
#include "plan/report.h"

namespace glmq::plan {
namespace {

pb::HParams Chat9b() {
  absl::StatusOr<pb::HParams> hp =
      HParamsFromConfigFile(std::string(GLMQ_SHARED_DIR) + "/reference/configs/glm-4-9b-chat.json");
  EXPECT_TRUE(hp.ok()) << hp.status();
  return *hp;
}

TEST(PlanTp, HeadsAndKvReplication) {
  const pb::HParams hp = Chat9b();  // 32 query heads, 2 KV heads, ffn 13696
  auto t2 = MakeTpLayout(hp, 2);
  ASSERT_TRUE(t2.ok());
  EXPECT_EQ(t2->q_heads, 16);
  EXPECT_EQ(t2->kv_heads, 1);
  EXPECT_EQ(t2->kv_replicas, 1);
  auto t8 = MakeTpLayout(hp, 8);
  ASSERT_TRUE(t8.ok());
  EXPECT_EQ(t8->q_heads, 4);
  EXPECT_EQ(t8->kv_heads, 1);
  EXPECT_EQ(t8->kv_replicas, 4);  // 2 KV heads over 8 GPUs: each held 4 times
  EXPECT_EQ(t8->ffn, 1712);
  EXPECT_EQ(t8->vocab_rows, 151552 / 8);
  EXPECT_FALSE(MakeTpLayout(hp, 3).ok());  // 32 heads / 3
  EXPECT_NE(std::string(MakeTpLayout(hp, 3).status().message()).find("--tp 3"), std::string::npos);
}

TEST(PlanTp, KvCachePerGpuStopsShrinkingPastTheKvHeads) {
  const pb::HParams hp = Chat9b();
  PlanOptions o;
  for (int tp : {1, 2, 4, 8}) {
    o.tp = tp;
    auto p = MakePlan(hp, o);
    ASSERT_TRUE(p.ok()) << p.status();
    // 2 * 40 layers * kv heads per GPU * 128 * 2 bytes.
    EXPECT_EQ(p->kv_per_token[0], 2u * 40 * (tp == 1 ? 2 : 1) * 128 * 2) << tp;
  }
}

TEST(PlanTp, ShardsAddUpToTheModelPlusReplicas) {
  const pb::HParams hp = Chat9b();
  PlanOptions o;
  auto one = MakePlan(hp, o);
  o.tp = 2;
  auto two = MakePlan(hp, o);
  o.tp = 4;
  auto four = MakePlan(hp, o);
  ASSERT_TRUE(one.ok() && two.ok() && four.ok());
  const uint64_t full = one->weights[0].bytes.total();  // bf16
  // Norms (2 per layer + final, hidden 4096, bf16) and the qkv bias halves
  // are per GPU; at tp 2 nothing else is replicated.
  const uint64_t norms = (40 * 2 + 1) * 4096 * 2;
  EXPECT_EQ(2 * two->weights[0].bytes.total(), full + norms);
  // At tp 4 each KV head's k and v rows (weights and bias) are held twice.
  const uint64_t kv_rows = 2 * 2 * 128;  // k and v of the 2 KV heads
  EXPECT_EQ(4 * four->weights[0].bytes.total(), full + 3 * norms + 40 * kv_rows * (4096 + 1) * 2);
}

TEST(PlanTp, GpuAnswerNamesReplicationAndGroupProblems) {
  PlanOptions o;
  o.tp = 4;
  auto p = MakePlan(Chat9b(), o);
  ASSERT_TRUE(p.ok());
  const std::string text = RenderGpuFit(*p, 24ull << 30, "24G");
  EXPECT_NE(text.find("per GPU of 4"), std::string::npos) << text;
  EXPECT_NE(text.find("replicated on 2 GPUs"), std::string::npos) << text;
  // ffn_down: 13696 / 4 = 3424 input columns, not a multiple of 128.
  EXPECT_NE(text.find("int4-g128: ffn_down: 3424 input columns per GPU"), std::string::npos)
      << text;
  // More context fits per GPU than on one card.
  o.tp = 1;
  auto single = MakePlan(Chat9b(), o);
  EXPECT_GT(MaxContextThatFits(*p, 0, 0, 20ull << 30),
            MaxContextThatFits(*single, 0, 0, 20ull << 30));
}

}  // namespace
}  // namespace glmq::plan
