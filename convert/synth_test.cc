// Synthesizer: full-size plan equals the real glm-4-9b-chat checkpoint
// (bytes and shard boundaries); a small synthesized model converts.
#include "convert/synth.h"

#include <filesystem>

#include "convert/source.h"
#include "gtest/gtest.h"

namespace glmq {
namespace {

const std::string kRef = std::string(GLMQ_SHARED_DIR) + "/reference/";

TEST(Synth, FullSizeGlm4_9bChatPlanMatchesRealIndex) {
  auto config = ReadJsonFile(kRef + "configs/glm-4-9b-chat.json");
  ASSERT_TRUE(config.ok());
  SynthOptions o;
  o.real_index = kRef + "tensors/glm-4-9b-chat.safetensors.index.json";
  auto plan = PlanSynth(*config, o);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->total_bytes, 18'799'902'784ull);
  ASSERT_EQ(plan->shards.size(), 10u);
  EXPECT_EQ(plan->shards[0].name, "model-00001-of-00010.safetensors");
}

TEST(Synth, SmallModelRoundTripsThroughHfSource) {
  auto config = ReadJsonFile(kRef + "configs/GLM-4-9B-0414.json");
  ASSERT_TRUE(config.ok());
  SynthOptions o;
  o.layers = 2;
  o.hidden = 128;
  o.shard_bytes = 30'000'000;  // forces several shards + an index
  auto plan = PlanSynth(*config, o);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->hparams.hidden_size(), 128);
  EXPECT_GT(plan->shards.size(), 1u);
  const std::string dir = std::filesystem::temp_directory_path() /
                          ("glmq_synth_" + std::to_string(::getpid()));
  ASSERT_TRUE(WriteSynth(*plan, 7, dir).ok());
  auto src = OpenHfCheckpoint(dir);
  ASSERT_TRUE(src.ok()) << src.status();
  EXPECT_EQ((*src)->metadata().tensors_size(), 3 + 2 * 9);
  const pb::TensorEntry* norm = (*src)->FindTensor("blk.1.post_ffn_norm.weight");
  const pb::TensorEntry* w = (*src)->FindTensor("blk.0.ffn_down.weight");
  ASSERT_TRUE(norm && w);
  std::vector<float> n(128), d(128 * TensorCols(*w));
  ASSERT_TRUE((*src)->ReadRowsF32(*norm, 0, 1, n.data()).ok());
  ASSERT_TRUE((*src)->ReadRowsF32(*w, 0, 128, d.data()).ok());
  double mean = 0, var = 0;
  for (float v : n) EXPECT_NEAR(v, 1.0f, 0.15f);
  for (float v : d) mean += v;
  mean /= d.size();
  for (float v : d) var += (v - mean) * (v - mean);
  EXPECT_NEAR(mean, 0.0, 0.002);
  EXPECT_NEAR(std::sqrt(var / d.size()), 0.02, 0.002);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace glmq
