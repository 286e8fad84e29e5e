// HParamsFromHfConfig on every real config in shared/reference/configs and
// on the three fixtures.
#include "convert/hf_config.h"

#include <string>

#include "gtest/gtest.h"

namespace glmq {
namespace {

const std::string kConfigs = std::string(GLMQ_SHARED_DIR) + "/reference/configs/";
const std::string kModels = std::string(GLMQ_SHARED_DIR) + "/fixtures/models/";

pb::HParams Load(const std::string& path) {
  auto hp = HParamsFromConfigFile(path);
  EXPECT_TRUE(hp.ok()) << hp.status();
  return hp.ok() ? *hp : pb::HParams();
}

TEST(HfConfig, Glm4_9bChat) {
  pb::HParams hp = Load(kConfigs + "glm-4-9b-chat.json");
  EXPECT_EQ(hp.layout(), pb::LAYOUT_CHATGLM);
  EXPECT_EQ(hp.architecture(), "ChatGLMModel");
  EXPECT_EQ(hp.n_layers(), 40);
  EXPECT_EQ(hp.hidden_size(), 4096);
  EXPECT_EQ(hp.n_heads(), 32);
  EXPECT_EQ(hp.n_kv_heads(), 2);
  EXPECT_EQ(hp.head_dim(), 128);
  EXPECT_EQ(hp.ffn_hidden_size(), 13696);
  EXPECT_EQ(hp.padded_vocab_size(), 151552);
  EXPECT_EQ(hp.max_context(), 131072);
  EXPECT_DOUBLE_EQ(hp.rope_base(), 5e6);
  EXPECT_EQ(hp.rope_dims(), 64);
  EXPECT_TRUE(hp.rope_interleaved());
  EXPECT_DOUBLE_EQ(hp.norm_eps(), 1.5625e-07);
  EXPECT_EQ(hp.norms_per_layer(), 2);
  EXPECT_TRUE(hp.qkv_bias());
  EXPECT_FALSE(hp.attn_output_bias());
  EXPECT_FALSE(hp.mlp_bias());
  EXPECT_FALSE(hp.tied_embeddings());
  EXPECT_EQ(hp.vocab_size(), 0);
  ASSERT_EQ(hp.eos_token_ids_size(), 3);
  EXPECT_EQ(hp.eos_token_ids(1), 151336);
  EXPECT_EQ(hp.pad_token_id(), 151329);
  EXPECT_FALSE(hp.has_vision());
}

TEST(HfConfig, Glm4_9bBaseAnd1m) {
  pb::HParams base = Load(kConfigs + "glm-4-9b.json");
  EXPECT_DOUBLE_EQ(base.rope_base(), 10000.0);  // no rope_ratio: 1
  EXPECT_EQ(base.max_context(), 8192);
  EXPECT_EQ(base.n_layers(), 40);  // only num_layers present
  pb::HParams m = Load(kConfigs + "glm-4-9b-chat-1m.json");
  EXPECT_DOUBLE_EQ(m.rope_base(), 1e8);
  EXPECT_EQ(m.n_kv_heads(), 4);
  EXPECT_EQ(m.max_context(), 1048576);
}

TEST(HfConfig, Glm4_9bChatHfHonoursRopeThetaAsWritten) {
  pb::HParams hp = Load(kConfigs + "glm-4-9b-chat-hf.json");
  EXPECT_EQ(hp.layout(), pb::LAYOUT_GLM);
  EXPECT_DOUBLE_EQ(hp.rope_base(), 10000.0);
  EXPECT_EQ(hp.rope_dims(), 64);  // partial_rotary_factor default 0.5
  EXPECT_EQ(hp.n_kv_heads(), 2);
  EXPECT_EQ(hp.max_context(), 131072);
  EXPECT_EQ(hp.norms_per_layer(), 2);
  EXPECT_TRUE(hp.qkv_bias());
}

TEST(HfConfig, Glm4_0414) {
  pb::HParams hp9 = Load(kConfigs + "GLM-4-9B-0414.json");
  EXPECT_EQ(hp9.layout(), pb::LAYOUT_GLM4);
  EXPECT_EQ(hp9.norms_per_layer(), 4);
  EXPECT_TRUE(hp9.qkv_bias());
  EXPECT_DOUBLE_EQ(hp9.norm_eps(), 1e-5);
  EXPECT_EQ(hp9.max_context(), 32768);
  pb::HParams hp32 = Load(kConfigs + "GLM-4-32B-0414.json");
  EXPECT_EQ(hp32.n_layers(), 61);
  EXPECT_EQ(hp32.n_heads(), 48);
  EXPECT_EQ(hp32.head_dim(), 128);
  EXPECT_EQ(hp32.ffn_hidden_size(), 23040);
  EXPECT_FALSE(hp32.qkv_bias());
}

TEST(HfConfig, VisionModels) {
  pb::HParams v = Load(kConfigs + "glm-4v-9b.json");
  EXPECT_EQ(v.layout(), pb::LAYOUT_CHATGLM_VISION);
  EXPECT_EQ(v.vision().n_layers(), 63);
  EXPECT_EQ(v.vision().hidden_size(), 1792);
  EXPECT_EQ(v.vision().ffn_hidden_size(), 15360);
  EXPECT_EQ(v.vision().image_tokens(), 1600);
  EXPECT_EQ(v.vision().out_hidden_size(), 4096);
  pb::HParams t = Load(kConfigs + "GLM-4.1V-9B-Thinking.json");
  EXPECT_EQ(t.layout(), pb::LAYOUT_GLM4V);
  EXPECT_EQ(t.n_layers(), 40);
  EXPECT_EQ(t.norms_per_layer(), 4);
  EXPECT_EQ(t.max_context(), 65536);
  EXPECT_EQ(t.vision().n_layers(), 24);
  EXPECT_EQ(t.vision().hidden_size(), 1536);
  EXPECT_EQ(t.vision().image_tokens(), 144);
  ASSERT_EQ(t.mrope_section_size(), 3);
  EXPECT_EQ(t.mrope_section(1), 12);
  EXPECT_EQ(t.eos_token_ids_size(), 4);
  // The tower constants and splice ids the runtime needs.
  EXPECT_EQ(v.vision().n_positions(), 6401);
  EXPECT_EQ(v.vision().scaling_factor(), 8);
  EXPECT_EQ(v.vision().merger_size(), 13696);  // the text ffn
  EXPECT_EQ(v.vision().image_start_token_id(), 151339);
  EXPECT_EQ(v.vision().image_end_token_id(), 151340);
  EXPECT_EQ(v.vision().preprocess().resize_size(), 1120);
  EXPECT_EQ(t.vision().n_positions(), 576);  // (336 / 14)^2
  EXPECT_EQ(t.vision().mlp_size(), 4096);
  EXPECT_EQ(t.vision().merger_size(), 13696);
  EXPECT_FALSE(t.vision().attention_bias());
  EXPECT_EQ(t.vision().image_token_id(), 151343);
  EXPECT_EQ(t.vision().preprocess().max_pixels(), 28 * 28 * 15000);  // processor default
}

TEST(HfConfig, PreprocessorConfig) {
  pb::HParams t = Load(kConfigs + "GLM-4.1V-9B-Thinking.json");
  Json p = Json::parse(R"({"size": {"shortest_edge": 3136, "longest_edge": 1000000},
                           "image_mean": [0.5, 0.5, 0.5], "patch_size": 14})");
  ASSERT_TRUE(FillImagePreprocess(p, "pre.json", &t).ok());
  EXPECT_EQ(t.vision().preprocess().min_pixels(), 3136);
  EXPECT_EQ(t.vision().preprocess().image_mean(0), 0.5f);
  p["resample"] = 2;
  EXPECT_NE(FillImagePreprocess(p, "pre.json", &t).message().find("pre.json: field 'resample'"),
            std::string::npos);
  p.erase("resample");
  p["merge_size"] = 3;
  EXPECT_NE(FillImagePreprocess(p, "pre.json", &t).message().find("'merge_size' is 3"),
            std::string::npos);
}

TEST(HfConfig, Fixtures) {
  pb::HParams chat = Load(kModels + "glm4-tiny-chat/config.json");
  pb::HParams hf = Load(kModels + "glm4-tiny-chat-hf/config.json");
  pb::HParams q = Load(kModels + "glm4-tiny-0414/config.json");
  for (const pb::HParams* hp : {&chat, &hf, &q}) {
    EXPECT_EQ(hp->n_layers(), 4);
    EXPECT_EQ(hp->hidden_size(), 256);
    EXPECT_EQ(hp->n_heads(), 8);
    EXPECT_EQ(hp->n_kv_heads(), 2);
    EXPECT_EQ(hp->head_dim(), 32);
    EXPECT_EQ(hp->rope_dims(), 16);
    EXPECT_EQ(hp->ffn_hidden_size(), 640);
    EXPECT_EQ(hp->padded_vocab_size(), 4160);
  }
  EXPECT_DOUBLE_EQ(chat.rope_base(), 5e6);
  EXPECT_DOUBLE_EQ(hf.rope_base(), 5e6);
  EXPECT_DOUBLE_EQ(chat.norm_eps(), hf.norm_eps());
  EXPECT_DOUBLE_EQ(q.rope_base(), 1e4);
}

TEST(HfConfig, Errors) {
  auto bad_type = HParamsFromHfConfig(Json::parse(R"({"model_type":"llama"})"), "x.json");
  ASSERT_FALSE(bad_type.ok());
  EXPECT_NE(bad_type.status().message().find("model_type"), std::string::npos);
  auto bad_arch = HParamsFromHfConfig(
      Json::parse(R"({"model_type":"glm4","architectures":["LlamaForCausalLM"]})"), "x.json");
  ASSERT_FALSE(bad_arch.ok());
  EXPECT_NE(bad_arch.status().message().find("architectures"), std::string::npos);
  Json missing = Json::parse(R"({"model_type":"glm","architectures":["GlmForCausalLM"],
      "hidden_size":256,"num_attention_heads":8})");
  auto m = HParamsFromHfConfig(missing, "x.json");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("num_hidden_layers"), std::string::npos);
}

}  // namespace
}  // namespace glmq
