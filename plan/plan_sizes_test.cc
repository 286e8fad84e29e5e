// Weight sizes of the planner against hand arithmetic and against the real
// checkpoints' tensor lists / safetensors index files.
#include <algorithm>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "convert/hf_config.h"
#include "core/json.h"
#include "gtest/gtest.h"
#include "schema/encodings.h"
#include "plan/memory.h"
#include "schema/tensors.h"
#include "plan/schemes.h"

namespace glmq::plan {
namespace {

const std::string kRef = std::string(GLMQ_SHARED_DIR) + "/reference/";

pb::HParams Config(const std::string& model) {
  absl::StatusOr<pb::HParams> hp = HParamsFromConfigFile(kRef + "configs/" + model + ".json");
  EXPECT_TRUE(hp.ok()) << hp.status();
  return hp.ok() ? *hp : pb::HParams();
}

std::vector<std::string> Models() {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(kRef + "configs")) {
    const std::string name = e.path().filename().string();
    if (e.path().extension() == ".json" && name.find("generation_config") == std::string::npos)
      out.push_back(name.substr(0, name.size() - 5));
  }
  std::sort(out.begin(), out.end());
  return out;
}

uint64_t Numel(const std::vector<int64_t>& shape) {
  uint64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

TEST(PlanSizes, Glm4ChatBf16CheckpointMatchesIndexTotalSize) {
  const absl::StatusOr<Json> index = ReadJsonFile(kRef + "tensors/glm-4-9b-chat.safetensors.index.json");
  ASSERT_TRUE(index.ok());
  const uint64_t total_size = (*index)["metadata"]["total_size"].get<uint64_t>();
  ASSERT_EQ(total_size, 18799902784u);
  absl::StatusOr<Plan> plan = MakePlan(Config("glm-4-9b-chat"), PlanOptions());
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->checkpoint_bf16_bytes, total_size);
  // The runtime does not load transformer.rotary_pos_emb.inv_freq [32] bf16.
  EXPECT_EQ(plan->weights[0].name, "bf16");
  EXPECT_EQ(plan->weights[0].bytes.total(), total_size - 64);
}

TEST(PlanSizes, Chat1mCheckpointMatchesIndexTotalSize) {
  const absl::StatusOr<Json> index =
      ReadJsonFile(kRef + "tensors/glm-4-9b-chat-1m.safetensors.index.json");
  ASSERT_TRUE(index.ok());
  absl::StatusOr<Plan> plan = MakePlan(Config("glm-4-9b-chat-1m"), PlanOptions());
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->checkpoint_bf16_bytes, (*index)["metadata"]["total_size"].get<uint64_t>());
}

// Every real tensor list: the bf16 source size (model tensors + source-only
// ones) equals 2 bytes x the listed elements, and the vision tower of the
// tensor table has exactly the listed HF names and shapes.
TEST(PlanSizes, EveryModelMatchesItsRealTensorList) {
  for (const std::string& model : Models()) {
    SCOPED_TRACE(model);
    const absl::StatusOr<Json> list = ReadJsonFile(kRef + "tensors/" + model + ".tensors.json");
    ASSERT_TRUE(list.ok()) << list.status();
    uint64_t real_elems = 0;
    std::vector<std::pair<std::string, std::vector<int64_t>>> real_vision;
    for (const Json& t : (*list)["tensors"]) {
      const std::string name = t[0].get<std::string>();
      const std::vector<int64_t> shape = t[1].get<std::vector<int64_t>>();
      real_elems += Numel(shape);
      if (name.find(".vision.") != std::string::npos || name.find(".visual.") != std::string::npos)
        real_vision.emplace_back(name, shape);
    }
    const pb::HParams hp = Config(model);
    absl::StatusOr<Plan> plan = MakePlan(hp, PlanOptions());
    ASSERT_TRUE(plan.ok()) << plan.status();
    EXPECT_EQ(plan->checkpoint_bf16_bytes, 2 * real_elems);

    absl::StatusOr<std::vector<ModelTensor>> vision = ModelTensors(hp, TensorSet::kVision);
    ASSERT_TRUE(vision.ok());
    std::vector<std::pair<std::string, std::vector<int64_t>>> ours;
    uint64_t vision_elems = 0, real_vision_elems = 0;
    for (const ModelTensor& t : *vision) {
      for (const HfTensorName& p : HfParts(t, hp)) ours.emplace_back(p.name, p.shape);
      vision_elems += Numel(t.shape);
    }
    for (const auto& [name, shape] : real_vision) real_vision_elems += Numel(shape);
    std::sort(ours.begin(), ours.end());
    std::sort(real_vision.begin(), real_vision.end());
    EXPECT_EQ(ours, real_vision);
    EXPECT_EQ(plan->weights[0].bytes.vision, 2 * real_vision_elems);
    EXPECT_EQ(vision_elems, real_vision_elems);
  }
}

TEST(PlanSizes, VisionTotalsByHand) {
  // glm-4v-9b: 4,506,369,536 vision parameters; GLM-4.1V: 892,498,432.
  absl::StatusOr<Plan> v4 = MakePlan(Config("glm-4v-9b"), PlanOptions());
  absl::StatusOr<Plan> v41 = MakePlan(Config("GLM-4.1V-9B-Thinking"), PlanOptions());
  ASSERT_TRUE(v4.ok() && v41.ok());
  EXPECT_EQ(v4->weights[0].bytes.vision, 2 * 4506369536u);
  EXPECT_EQ(v41->weights[0].bytes.vision, 2 * 892498432u);
  // Vision towers are never quantized: same bytes in every scheme.
  for (const SchemeWeights& w : v4->weights) EXPECT_EQ(w.bytes.vision, 2 * 4506369536u);
}

// specs/encodings.md: q4 = per group an f16 scale + g/2 bytes of nibbles;
// q8 = f16 scale + g bytes. One GLM-4-9B layer under int4-g128.
TEST(PlanSizes, Int4G128OneLayerByHand) {
  const pb::HParams hp = Config("glm-4-9b-chat");
  absl::StatusOr<std::vector<ModelTensor>> all = ModelTensors(hp, TensorSet::kText);
  ASSERT_TRUE(all.ok());
  std::vector<ModelTensor> layer0;
  for (const ModelTensor& t : *all)
    if (t.layer == 0) layer0.push_back(t);
  ASSERT_EQ(layer0.size(), 7u);  // norm, qkv w+b, output, norm, gate_up, down
  const uint64_t g = 2 + 128 / 2;  // 66 bytes per group of 128
  const uint64_t qkv = 4608ull * (4096 / 128) * g;          // 9,732,096
  const uint64_t out = 4096ull * (4096 / 128) * g;          // 8,650,752
  const uint64_t gate_up = 27392ull * (4096 / 128) * g;     // 57,851,904
  const uint64_t down = 4096ull * ((13696 + 127) / 128) * g;  // 107 groups: 28,925,952
  const uint64_t small = 2 * 4096 * 2 + 4608 * 2;           // two norms + qkv bias, bf16
  EXPECT_EQ(qkv + out + gate_up + down + small, 105186304u);
  absl::StatusOr<WeightBytes> w = SchemeWeightBytes("int4-g128", layer0, hp.n_layers());
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->total(), 105186304u);
  // Whole model: 40 layers + embedding and output at q8 g128 (130 B per 128
  // values) + the final norm.
  const uint64_t edge = 151552ull * (4096 / 128) * (2 + 128);
  absl::StatusOr<Plan> plan = MakePlan(hp, PlanOptions());
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->weights[2].name, "int4-g128");
  EXPECT_EQ(plan->weights[2].bytes.total(), 40 * 105186304ull + 2 * edge + 4096 * 2);
}

TEST(PlanSizes, SchemesShrinkInOrder) {
  for (const std::string& model : Models()) {
    SCOPED_TRACE(model);
    absl::StatusOr<Plan> p = MakePlan(Config(model), PlanOptions());
    ASSERT_TRUE(p.ok()) << p.status();
    ASSERT_EQ(p->weights.size(), 4u);
    EXPECT_GT(p->weights[0].bytes.total(), p->weights[1].bytes.total());  // bf16 > int8
    EXPECT_GT(p->weights[1].bytes.total(), p->weights[3].bytes.total());  // int8 > int4-g32
    EXPECT_GT(p->weights[3].bytes.total(), p->weights[2].bytes.total());  // g32 > g128
  }
}

}  // namespace
}  // namespace glmq::plan
