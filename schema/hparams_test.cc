#include "schema/hparams.h"

#include <cmath>
#include <functional>
#include <limits>

#include "gtest/gtest.h"

namespace glmq {
namespace {

pb::HParams Good() {
  pb::HParams hp;
  hp.set_layout(pb::LAYOUT_CHATGLM);
  hp.set_n_layers(40);
  hp.set_hidden_size(4096);
  hp.set_n_heads(32);
  hp.set_n_kv_heads(2);
  hp.set_head_dim(128);
  hp.set_ffn_hidden_size(13696);
  hp.set_padded_vocab_size(151552);
  hp.set_vocab_size(151329);
  hp.set_max_context(1048576);
  hp.set_rope_dims(64);
  hp.set_rope_interleaved(true);
  hp.set_rope_base(1e8);
  hp.set_norm_eps(1.5625e-7);
  hp.set_norms_per_layer(2);
  return hp;
}

// Each edit breaks one field; the error must name it.
TEST(ValidateHParams, NamesTheBadField) {
  EXPECT_TRUE(ValidateHParams(Good()).ok());
  const std::vector<std::pair<const char*, std::function<void(pb::HParams&)>>> cases = {
      {"'layout'", [](pb::HParams& h) { h.set_layout(pb::LAYOUT_UNSPECIFIED); }},
      {"'n_layers' is 0", [](pb::HParams& h) { h.set_n_layers(0); }},
      {"'n_layers' is 1000000000 (must be at most 1024)",
       [](pb::HParams& h) { h.set_n_layers(1000000000); }},
      {"'hidden_size' is -1", [](pb::HParams& h) { h.set_hidden_size(-1); }},
      {"'head_dim'", [](pb::HParams& h) { h.set_head_dim(int64_t{1} << 62); }},
      {"'max_context' is 0", [](pb::HParams& h) { h.set_max_context(0); }},
      {"'n_kv_heads' is 3 (does not divide n_heads 32)",
       [](pb::HParams& h) { h.set_n_kv_heads(3); }},
      {"'rope_dims'", [](pb::HParams& h) { h.set_rope_dims(63); }},
      {"'rope_interleaved'", [](pb::HParams& h) { h.set_rope_interleaved(false); }},
      {"'rope_base'", [](pb::HParams& h) { h.set_rope_base(std::nan("")); }},
      {"'norms_per_layer' is 4 (layout chatglm has 2)",
       [](pb::HParams& h) { h.set_norms_per_layer(4); }},
      {"'norm_eps'",
       [](pb::HParams& h) { h.set_norm_eps(std::numeric_limits<double>::infinity()); }},
      {"'vocab_size'", [](pb::HParams& h) { h.set_vocab_size(200000); }},
      {"'vision' is missing",
       [](pb::HParams& h) {
         h.set_layout(pb::LAYOUT_GLM4V);
         h.set_norms_per_layer(4);
       }},
  };
  for (const auto& [want, edit] : cases) {
    pb::HParams hp = Good();
    edit(hp);
    const absl::Status s = ValidateHParams(hp);
    EXPECT_FALSE(s.ok()) << want;
    EXPECT_NE(s.message().find(want), std::string::npos) << s.message();
  }
}

TEST(ValidateHParams, Vision) {
  pb::HParams hp = Good();
  hp.set_layout(pb::LAYOUT_CHATGLM_VISION);
  pb::VisionHParams* v = hp.mutable_vision();
  v->set_n_layers(63);
  v->set_hidden_size(1792);
  v->set_n_heads(16);
  v->set_ffn_hidden_size(15360);
  v->set_patch_size(14);
  v->set_image_size(1120);
  v->set_in_channels(3);
  v->set_out_hidden_size(4096);
  v->set_spatial_merge_size(2);
  v->set_image_tokens(1600);
  v->set_n_positions(6401);
  v->set_mlp_size(15360);
  v->set_merger_size(13696);
  v->set_norm_eps(1e-6);
  v->set_proj_norm_eps(1e-5);
  v->set_scaling_factor(8);
  v->set_hidden_act("gelu");
  v->set_image_start_token_id(1);
  v->set_image_end_token_id(2);
  v->mutable_preprocess()->set_resize_size(1120);
  v->mutable_preprocess()->set_rescale_factor(1.0 / 255);
  for (int c = 0; c < 3; ++c) {
    v->mutable_preprocess()->add_image_mean(0.5f);
    v->mutable_preprocess()->add_image_std(0.25f);
  }
  EXPECT_TRUE(ValidateHParams(hp).ok()) << ValidateHParams(hp);
  v->set_n_positions(6400);
  EXPECT_NE(ValidateHParams(hp).message().find("field 'n_positions'"), std::string::npos);
  v->set_n_positions(6401);
  v->set_image_end_token_id(hp.padded_vocab_size());
  EXPECT_NE(ValidateHParams(hp).message().find("field 'image_end_token_id'"), std::string::npos);
  v->set_image_end_token_id(2);
  v->set_hidden_act("silu");
  EXPECT_NE(ValidateHParams(hp).message().find("field 'hidden_act'"), std::string::npos);
  v->set_hidden_act("gelu");
  v->mutable_preprocess()->set_resize_size(1000);
  EXPECT_NE(ValidateHParams(hp).message().find("preprocess: field 'resize_size'"),
            std::string::npos);
  v->mutable_preprocess()->set_resize_size(1120);
  v->set_image_size(1121);
  EXPECT_NE(ValidateHParams(hp).message().find("hparams.vision: field 'image_size'"),
            std::string::npos);
}

TEST(LayoutName, AllLayouts) {
  EXPECT_EQ(LayoutName(pb::LAYOUT_GLM4V), "glm4v");
  EXPECT_EQ(LayoutName(pb::LAYOUT_CHATGLM_VISION), "chatglm-vision");
  EXPECT_TRUE(IsVisionLayout(pb::LAYOUT_GLM4V));
  EXPECT_FALSE(IsVisionLayout(pb::LAYOUT_GLM4));
}

}  // namespace
}  // namespace glmq
