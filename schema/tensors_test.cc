#include "schema/tensors.h"

#include <fstream>
#include <set>
#include <sstream>

#include "gtest/gtest.h"
#include "schema/hparams.h"

namespace glmq {
namespace {

// Sizes that are all different, so that a wrong Dim shows up as a wrong size.
pb::HParams TestHp(pb::Layout layout) {
  pb::HParams hp;
  hp.set_layout(layout);
  hp.set_n_layers(3);
  hp.set_hidden_size(64);
  hp.set_n_heads(4);
  hp.set_n_kv_heads(2);
  hp.set_head_dim(24);
  hp.set_ffn_hidden_size(160);
  hp.set_padded_vocab_size(352);
  hp.set_max_context(128);
  hp.set_rope_dims(12);
  hp.set_rope_interleaved(true);
  hp.set_rope_base(10000);
  hp.set_norm_eps(1e-5);
  hp.set_norms_per_layer(layout == pb::LAYOUT_GLM4 || layout == pb::LAYOUT_GLM4V ? 4 : 2);
  hp.set_qkv_bias(true);
  if (IsVisionLayout(layout)) {
    pb::VisionHParams* v = hp.mutable_vision();
    v->set_n_layers(2);
    v->set_hidden_size(48);
    v->set_n_heads(3);
    v->set_ffn_hidden_size(72);
    v->set_patch_size(14);
    v->set_image_size(56);
    v->set_in_channels(3);
    v->set_out_hidden_size(64);
    v->set_spatial_merge_size(2);
    v->set_image_tokens(4);
    const bool v41 = layout == pb::LAYOUT_GLM4V;
    v->set_temporal_patch_size(v41 ? 2 : 0);
    v->set_n_positions(v41 ? 16 : 17);
    v->set_mlp_size(v41 ? 64 : 72);
    v->set_merger_size(v41 ? 72 : 160);
    v->set_norm_eps(1e-6);
    v->set_proj_norm_eps(1e-5);
    v->set_scaling_factor(v41 ? 1 : 8);
    v->set_rope_theta(v41 ? 10000 : 0);
    v->set_hidden_act(v41 ? "silu" : "gelu");
    v->set_image_start_token_id(300);
    v->set_image_end_token_id(301);
    v->set_image_token_id(v41 ? 302 : 0);
    pb::ImagePreprocess* p = v->mutable_preprocess();
    p->set_resize_size(v41 ? 0 : 56);
    p->set_min_pixels(v41 ? 3136 : 0);
    p->set_max_pixels(v41 ? 1 << 20 : 0);
    p->set_rescale_factor(1.0 / 255);
    for (int c = 0; c < 3; ++c) {
      p->add_image_mean(0.5f);
      p->add_image_std(0.25f);
    }
  }
  return hp;
}

constexpr pb::Layout kAll[] = {pb::LAYOUT_CHATGLM, pb::LAYOUT_GLM, pb::LAYOUT_GLM4,
                               pb::LAYOUT_CHATGLM_VISION, pb::LAYOUT_GLM4V};

// Every row's canonical shape is its HF parts concatenated by rows.
TEST(TensorTable, CanonicalShapeIsTheConcatenatedParts) {
  for (pb::Layout layout : kAll) {
    const pb::HParams hp = TestHp(layout);
    auto tensors = ModelTensors(hp);
    ASSERT_TRUE(tensors.ok()) << tensors.status();
    std::set<std::string> names;
    for (const ModelTensor& t : *tensors) {
      EXPECT_TRUE(names.insert(t.name).second) << "duplicate " << t.name;
      const std::vector<HfTensorName> parts = HfParts(t, hp);
      ASSERT_FALSE(parts.empty()) << t.name << " has no HF name in " << LayoutName(layout);
      std::vector<int64_t> shape = parts[0].shape;
      for (size_t p = 1; p < parts.size(); ++p) {
        ASSERT_EQ(parts[p].shape.size(), shape.size()) << parts[p].name;
        for (size_t d = 1; d < shape.size(); ++d) EXPECT_EQ(parts[p].shape[d], shape[d]);
        shape[0] += parts[p].shape[0];
      }
      if (shape.size() != t.shape.size()) {  // a convolution kept as a matrix
        ASSERT_EQ(t.shape.size(), 2u) << t.name;
        int64_t cols = 1;
        for (size_t d = 1; d < shape.size(); ++d) cols *= shape[d];
        shape = {shape[0], cols};
      }
      EXPECT_EQ(shape, t.shape) << t.name << " in " << LayoutName(layout);
    }
  }
}

TEST(TensorTable, TextOrderAndOptionalTensors) {
  pb::HParams hp = TestHp(pb::LAYOUT_GLM4);
  auto t = ModelTensors(hp, TensorSet::kText);
  ASSERT_TRUE(t.ok());
  ASSERT_EQ(t->size(), 3u + 3 * 9);
  EXPECT_EQ(t->front().name, "token_embd.weight");
  EXPECT_EQ((*t)[1].name, "blk.0.attn_norm.weight");
  EXPECT_EQ((*t)[5].name, "blk.0.post_attn_norm.weight");
  EXPECT_EQ(t->back().name, "output.weight");
  hp.set_qkv_bias(false);
  hp.set_tied_embeddings(true);
  t = ModelTensors(hp, TensorSet::kText);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->size(), 2u + 3 * 8);
  EXPECT_EQ(t->back().name, "output_norm.weight");
  pb::HParams cg = TestHp(pb::LAYOUT_CHATGLM);
  cg.set_attn_output_bias(true);
  cg.set_mlp_bias(true);
  t = ModelTensors(cg);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->size(), 3u + 3 * 10);
  EXPECT_EQ((*t)[5].name, "blk.0.attn_output.bias");
  EXPECT_EQ((*t)[5].role, pb::ROLE_ATTN_OUTPUT_BIAS);
}

TEST(TensorTable, VisionTowersAfterTheText) {
  const pb::HParams hp = TestHp(pb::LAYOUT_GLM4V);
  auto v = ModelTensors(hp, TensorSet::kVision);
  ASSERT_TRUE(v.ok());
  ASSERT_EQ(v->size(), 4u + 2 * 7 + 9);
  EXPECT_EQ(v->front().name, "v.patch_embd.weight");
  EXPECT_EQ(v->front().shape, (std::vector<int64_t>{48, 3 * 2 * 14 * 14}));  // Conv3d as a matrix
  EXPECT_EQ(HfParts(v->front(), hp)[0].shape, (std::vector<int64_t>{48, 3, 2, 14, 14}));
  EXPECT_EQ((*v)[3].shape, (std::vector<int64_t>{16, 48}));  // 4x4 position table
  EXPECT_EQ(HfParts((*v)[4], hp)[0].name, "model.visual.blocks.0.norm1.weight");
  for (const ModelTensor& t : *v) EXPECT_EQ(t.role, pb::ROLE_VISION);
  const pb::HParams eva = TestHp(pb::LAYOUT_CHATGLM_VISION);
  auto e = ModelTensors(eva, TensorSet::kVision);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->size(), 4u + 2 * 12 + 10);
  EXPECT_EQ((*e)[3].shape, (std::vector<int64_t>{17, 48}));  // + CLS
  pb::HParams biased = hp;
  biased.mutable_vision()->set_attention_bias(true);
  auto b = ModelTensors(biased, TensorSet::kVision);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->size(), v->size() + 2);  // v.blk.{0,1}.attn_qkv.bias
  EXPECT_EQ((*b)[6].name, "v.blk.0.attn_qkv.bias");
  auto all = ModelTensors(eva);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ((*all)[all->size() - e->size() - 1].name, "output.weight");
}

TEST(TensorTable, GlmVTextNamesCarryTheLanguageModelPrefix) {
  const pb::HParams hp = TestHp(pb::LAYOUT_GLM4V);
  auto t = ModelTensors(hp, TensorSet::kText);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(HfParts((*t)[0], hp)[0].name, "model.language_model.embed_tokens.weight");
  EXPECT_EQ(HfParts(t->back(), hp)[0].name, "lm_head.weight");
  const pb::HParams glm = TestHp(pb::LAYOUT_GLM);
  auto g = ModelTensors(glm, TensorSet::kText);
  ASSERT_TRUE(g.ok());
  const std::vector<HfTensorName> qkv = HfParts((*g)[2], glm);
  ASSERT_EQ(qkv.size(), 3u);
  EXPECT_EQ(qkv[1].name, "model.layers.0.self_attn.k_proj.weight");
}

TEST(TensorTable, SourceOnlyTensors) {
  const std::vector<HfTensorName> s = SourceOnlyHfTensors(TestHp(pb::LAYOUT_CHATGLM));
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].name, "transformer.rotary_pos_emb.inv_freq");
  EXPECT_EQ(s[0].shape, std::vector<int64_t>{6});
  EXPECT_TRUE(SourceOnlyHfTensors(TestHp(pb::LAYOUT_GLM4)).empty());
}

TEST(TensorTable, LinearInputs) {
  const pb::HParams hp = TestHp(pb::LAYOUT_CHATGLM);
  EXPECT_EQ(LinearWeightName(3, LinearInput::kAttnQkv), "blk.3.attn_qkv.weight");
  EXPECT_EQ(LinearWeightName(0, LinearInput::kFfnDown), "blk.0.ffn_down.weight");
  EXPECT_EQ(LinearWeightName(-1, LinearInput::kOutput), "output.weight");
  EXPECT_EQ(LinearInputCols(hp, LinearInput::kAttnOutput), 96);
  EXPECT_EQ(LinearInputCols(hp, LinearInput::kFfnDown), 160);
  EXPECT_EQ(LinearInputCols(hp, LinearInput::kOutput), 64);
  for (int k = 0; k < kNumLinearInputs; ++k) {
    const LinearInput in = static_cast<LinearInput>(k);
    const int layer = in == LinearInput::kOutput ? -1 : 12;
    int l = 0;
    LinearInput w = LinearInput::kNone;
    ASSERT_TRUE(ParseLinearWeightName(LinearWeightName(layer, in), &l, &w));
    EXPECT_EQ(l, layer);
    EXPECT_EQ(w, in);
  }
  int l;
  LinearInput w;
  EXPECT_FALSE(ParseLinearWeightName("blk.3.attn_norm.weight", &l, &w));
  EXPECT_FALSE(ParseLinearWeightName("blk.x.attn_qkv.weight", &l, &w));
  EXPECT_FALSE(ParseLinearWeightName("blk.03.attn_qkv.weight", &l, &w));
  EXPECT_EQ(TensorName(pb::ROLE_TOKEN_EMBD), "token_embd.weight");
  EXPECT_EQ(TensorName(pb::ROLE_ATTN_QKV, 0), "blk.0.attn_qkv.weight");
}

// The quantization presets' rules: stored in files, so the strings must not drift.
TEST(TensorTable, Patterns) {
  EXPECT_EQ(BlockTensorPattern("\\d+", {pb::ROLE_ATTN_QKV, pb::ROLE_ATTN_OUTPUT,
                                        pb::ROLE_FFN_GATE_UP, pb::ROLE_FFN_DOWN}),
            R"(^blk\.\d+\.(attn_qkv|attn_output|ffn_gate_up|ffn_down)\.weight$)");
  EXPECT_EQ(BlockTensorPattern("(0|39)", {pb::ROLE_ATTN_QKV, pb::ROLE_FFN_DOWN}),
            R"(^blk\.(0|39)\.(attn_qkv|ffn_down)\.weight$)");
  EXPECT_EQ(TensorPattern(pb::ROLE_TOKEN_EMBD), R"(^token_embd\.weight$)");
  EXPECT_EQ(TensorPattern(pb::ROLE_OUTPUT), R"(^output\.weight$)");
}

TEST(TensorTable, InvalidHParamsAreRefused) {
  pb::HParams hp = TestHp(pb::LAYOUT_GLM);
  hp.set_n_kv_heads(3);
  auto t = ModelTensors(hp);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("n_kv_heads"), std::string::npos);
}

// The kept-column companions are named after every text linear, nothing else.
TEST(TensorTable, CompanionsOfLinears) {
  EXPECT_EQ(CompanionName("blk.3.attn_qkv.weight", pb::ROLE_KEPT_COLS), "blk.3.attn_qkv.kept_cols");
  EXPECT_EQ(CompanionName("output.weight", pb::ROLE_KEPT_IDX), "output.kept_idx");
  EXPECT_EQ(CompanionName("token_embd.weight", pb::ROLE_KEPT_COLS), "");
  EXPECT_EQ(CompanionName("blk.0.attn_norm.weight", pb::ROLE_KEPT_COLS), "");
  EXPECT_EQ(CompanionName("blk.0.ffn_down.weight", pb::ROLE_FFN_DOWN), "");
  const CompanionDef* c = FindCompanion(pb::ROLE_KEPT_COLS);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(CompanionShape(*c, 640, 4), (std::vector<int64_t>{640, 4}));
  EXPECT_EQ(CompanionShape(*FindCompanion(pb::ROLE_KEPT_IDX), 640, 4), (std::vector<int64_t>{4}));
  EXPECT_EQ(FindCompanion(pb::ROLE_OUTPUT), nullptr);
}

// specs/glm4-tensors.md holds the table's rendering between two markers.
// GLMQ_UPDATE_SPECS=1 rewrites it.
TEST(TensorTable, SpecIsRenderedFromTheTable) {
  const std::string path = std::string(GLMQ_SOURCE_DIR) + "/specs/glm4-tensors.md";
  std::ifstream in(path);
  std::stringstream buf;
  buf << in.rdbuf();
  std::string spec = buf.str();
  const std::string begin = "<!-- BEGIN generated from schema/tensor_table.cc -->\n";
  const std::string end = "<!-- END generated -->";
  const size_t a = spec.find(begin), b = spec.find(end);
  ASSERT_NE(a, std::string::npos) << path << " lacks the marker " << begin;
  ASSERT_NE(b, std::string::npos) << path << " lacks the marker " << end;
  const std::string want = RenderTensorSpec();
  if (std::getenv("GLMQ_UPDATE_SPECS") != nullptr) {
    spec.replace(a + begin.size(), b - a - begin.size(), want);
    std::ofstream(path) << spec;
    return;
  }
  EXPECT_EQ(spec.substr(a + begin.size(), b - a - begin.size()), want)
      << "run the test with GLMQ_UPDATE_SPECS=1 to regenerate " << path;
}

}  // namespace
}  // namespace glmq
