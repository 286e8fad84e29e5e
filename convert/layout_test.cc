// Layout tables against the real tensor lists of every GLM-4 text model
// (shared/reference/tensors/*.tensors.json) and against the fixtures.
#include "convert/layout.h"

#include <set>
#include <string>

#include "convert/hf_config.h"
#include "core/json.h"
#include "gtest/gtest.h"
#include "schema/tensors.h"

namespace glmq {
namespace {

const std::string kShared = GLMQ_SHARED_DIR;

std::vector<SafetensorsTensor> RealTensors(const std::string& model) {
  auto j = ReadJsonFile(kShared + "/reference/tensors/" + model + ".tensors.json");
  EXPECT_TRUE(j.ok()) << j.status();
  std::vector<SafetensorsTensor> out;
  for (const Json& t : (*j)["tensors"]) {
    out.push_back({t[0].get<std::string>(), DType::kBF16, t[1].get<std::vector<int64_t>>(), 0, 0});
  }
  return out;
}

pb::HParams Hp(const std::string& config) {
  auto hp = HParamsFromConfigFile(kShared + "/reference/configs/" + config + ".json");
  EXPECT_TRUE(hp.ok()) << hp.status();
  return *hp;
}

class RealModels : public ::testing::TestWithParam<const char*> {};

TEST_P(RealModels, TableMatchesRealTensorList) {
  const std::string model = GetParam();
  pb::HParams hp = Hp(model);
  std::vector<SafetensorsTensor> real = RealTensors(model);
  auto mapped = MapHfTensors(hp, real);
  ASSERT_TRUE(mapped.ok()) << mapped.status();
  const int per_layer = 6 + (hp.qkv_bias() ? 1 : 0) + (hp.norms_per_layer() == 4 ? 2 : 0);
  EXPECT_EQ(mapped->size(), 3u + per_layer * hp.n_layers());
  EXPECT_EQ(mapped->front().entry.name(), "token_embd.weight");
  EXPECT_EQ(mapped->back().entry.name(), "output.weight");
  // The expected list is exactly the real one (names and shapes).
  auto expected = ExpectedHfTensors(hp);
  ASSERT_TRUE(expected.ok());
  std::set<std::pair<std::string, std::vector<int64_t>>> a, b;
  for (const auto& t : real) a.insert({t.name, t.shape});
  for (const auto& t : *expected) b.insert({t.name, t.shape});
  EXPECT_EQ(a, b);
  uint64_t params = 0;
  for (const auto& c : *mapped) {
    uint64_t n = 1;
    for (int64_t d : c.entry.shape()) n *= d;
    params += n;
    if (c.entry.role() == pb::ROLE_ATTN_QKV) {
      EXPECT_EQ(c.entry.shape(0), (hp.n_heads() + 2 * hp.n_kv_heads()) * hp.head_dim());
    }
  }
  EXPECT_GT(params, 9'000'000'000ull);
}

INSTANTIATE_TEST_SUITE_P(All, RealModels,
                         ::testing::Values("glm-4-9b", "glm-4-9b-chat", "glm-4-9b-chat-1m",
                                           "glm-4-9b-chat-hf", "GLM-4-9B-0414", "GLM-4-32B-0414"));

TEST(Layout, Glm4_9bChatTotalBytes) {
  auto expected = ExpectedHfTensors(Hp("glm-4-9b-chat"));
  ASSERT_TRUE(expected.ok());
  uint64_t bytes = 0;
  for (const auto& t : *expected) {
    uint64_t n = 2;
    for (int64_t d : t.shape) n *= d;
    bytes += n;
  }
  EXPECT_EQ(bytes, 18'799'902'784ull);  // metadata.total_size of the real index
}

// Both vision generations map completely: text under its prefix, then the
// tower, convolutions as matrices over their receptive fields.
TEST(Layout, VisionModelsMap) {
  struct Case {
    const char* model;
    int64_t patch_cols;  // in * temporal * patch^2
  };
  for (const Case& c : {Case{"glm-4v-9b", 3 * 14 * 14}, Case{"GLM-4.1V-9B-Thinking", 3 * 2 * 14 * 14}}) {
    const pb::HParams hp = Hp(c.model);
    const std::vector<SafetensorsTensor> real = RealTensors(c.model);
    auto r = MapHfTensors(hp, real);
    ASSERT_TRUE(r.ok()) << c.model << ": " << r.status();
    size_t sources = 0;
    bool saw_patch = false;
    for (const CanonicalTensor& t : *r) {
      sources += t.sources.size();
      if (t.entry.name() != "v.patch_embd.weight") continue;
      saw_patch = true;
      ASSERT_EQ(t.entry.shape_size(), 2);
      EXPECT_EQ(t.entry.shape(0), hp.vision().hidden_size());
      EXPECT_EQ(t.entry.shape(1), c.patch_cols);
      EXPECT_EQ(t.entry.role(), pb::ROLE_VISION);
    }
    EXPECT_TRUE(saw_patch) << c.model;
    // Every real tensor is used once (chatglm's inv_freq is the only one dropped).
    EXPECT_EQ(sources + SourceOnlyHfTensors(hp).size(), real.size()) << c.model;
  }
}

TEST(Layout, UnknownMissingAndBadShapeNamed) {
  pb::HParams hp = Hp("glm-4-9b-chat");
  std::vector<SafetensorsTensor> real = RealTensors("glm-4-9b-chat");
  auto extra = real;
  extra.push_back({"transformer.encoder.layers.0.mystery.weight", DType::kBF16, {4}, 0, 0});
  auto r1 = MapHfTensors(hp, extra);
  ASSERT_FALSE(r1.ok());
  EXPECT_NE(r1.status().message().find("mystery"), std::string::npos);
  auto missing = real;
  missing.erase(missing.begin() + 5);
  auto r2 = MapHfTensors(hp, missing);
  ASSERT_FALSE(r2.ok());
  EXPECT_NE(r2.status().message().find(real[5].name), std::string::npos);
  auto bad = real;
  bad[3].shape[0] += 1;
  auto r3 = MapHfTensors(hp, bad);
  ASSERT_FALSE(r3.ok());
  EXPECT_NE(r3.status().message().find(bad[3].name), std::string::npos);
  auto i64 = real;
  i64[2].dtype = DType::kI64;
  auto r4 = MapHfTensors(hp, i64);
  ASSERT_FALSE(r4.ok());
  EXPECT_NE(r4.status().message().find(real[2].name), std::string::npos);
}

TEST(Layout, GlmMergesQkvInOrder) {
  pb::HParams hp = Hp("glm-4-9b-chat-hf");
  auto mapped = MapHfTensors(hp, RealTensors("glm-4-9b-chat-hf"));
  ASSERT_TRUE(mapped.ok());
  for (const auto& c : *mapped) {
    if (c.entry.name() != "blk.7.attn_qkv.weight") continue;
    ASSERT_EQ(c.entry.source_names_size(), 3);
    EXPECT_EQ(c.entry.source_names(0), "model.layers.7.self_attn.q_proj.weight");
    EXPECT_EQ(c.entry.source_names(2), "model.layers.7.self_attn.v_proj.weight");
    EXPECT_EQ(c.entry.shape(0), 4608);
    EXPECT_EQ(c.entry.layer(), 7);
    return;
  }
  FAIL() << "blk.7.attn_qkv.weight not produced";
}

}  // namespace
}  // namespace glmq
