// Synthesizer: full-size plan equals the real glm-4-9b-chat checkpoint
// (bytes and shard boundaries); a small synthesized model is a valid
// checkpoint of its layout with the intended value distributions.
#include "convert/synth.h"

#include <filesystem>

#include "convert/hf_checkpoint.h"
#include "convert/layout.h"
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

TEST(Synth, SmallModelIsAValidCheckpoint) {
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
  auto ckpt = HfCheckpoint::Open(dir);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  std::vector<SafetensorsTensor> infos;
  for (const HfTensor& t : (*ckpt)->tensors()) infos.push_back(*t.tensor);
  auto mapped = MapHfTensors((*ckpt)->hparams(), infos);
  ASSERT_TRUE(mapped.ok()) << mapped.status();
  EXPECT_EQ(mapped->size(), 3u + 2 * 9);
  // The values: norms ~1, weights ~N(0, 0.02).
  auto values = [&](const std::string& name) {
    const HfTensor* t = (*ckpt)->Find(name);
    EXPECT_NE(t, nullptr) << name;
    std::vector<float> v(t->tensor->size / 2);
    ConvertToF32(DType::kBF16, t->shard->mapped().data() + t->tensor->offset, v.data(),
                 static_cast<int64_t>(v.size()));
    return v;
  };
  const std::vector<float> n = values("model.layers.1.post_mlp_layernorm.weight");
  const std::vector<float> d = values("model.layers.0.mlp.down_proj.weight");
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
