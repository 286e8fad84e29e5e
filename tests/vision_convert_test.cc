// glm4v-tiny (glm-4v-9b layout) and glm41v-tiny (GLM-4.1V) through convert
// and quantize: every tensor's bytes equal the safetensors' (fused parts
// concatenated), the vision hyperparameters and preprocessing settings in
// the metadata, and the towers run from the .glmq files against the
// reference vision embeddings.
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "convert/hf_checkpoint.h"
#include "format/reader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pipeline/convert.h"
#include "pipeline/quantize.h"
#include "runtime/cpu/cpu_backend.h"
#include "runtime/vision/test_util.h"
#include "runtime/vision/vision_tower.h"
#include "runtime/weights.h"

namespace glmq {
namespace {

namespace fs = std::filesystem;

const std::string kShared = GLMQ_SHARED_DIR;
const std::string kModels = kShared + "/fixtures/models/";
const std::string kRef = kShared + "/fixtures/reference/";

class VisionConvert : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() / absl::StrCat("glmq_vision_convert_", ::getpid())).string();
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Convert() {
    const std::string out = dir_ + "/" + GetParam() + ".glmq";
    auto s = ConvertHfToGlmq(kModels + GetParam(), out, ConvertOptions{});
    EXPECT_TRUE(s.ok()) << s.status();
    return out;
  }
  std::string dir_;
};

TEST_P(VisionConvert, TensorBytesEqualTheSafetensors) {
  const std::string path = Convert();
  auto file = GlmqFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  auto ckpt = HfCheckpoint::Open(kModels + GetParam());
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  int vision = 0;
  for (const pb::TensorEntry& e : (*file)->metadata().tensors()) {
    std::string want;
    for (const std::string& src : e.source_names()) {
      const HfTensor* h = (*ckpt)->Find(src);
      ASSERT_NE(h, nullptr) << src;
      const absl::Span<const uint8_t> b = h->shard->Data(*h->tensor);
      want.append(reinterpret_cast<const char*>(b.data()), b.size());
    }
    const absl::Span<const uint8_t> got = (*file)->TensorData(e);
    ASSERT_EQ(got.size(), want.size()) << e.name();
    EXPECT_EQ(std::memcmp(got.data(), want.data(), want.size()), 0) << e.name();
    if (e.role() == pb::ROLE_VISION) {
      ++vision;
      EXPECT_TRUE(absl::StartsWith(e.name(), "v.")) << e.name();
      if (absl::StrContains(e.name(), "patch_embd.weight") ||
          absl::StrContains(e.name(), "downsample.weight")) {
        EXPECT_EQ(e.shape_size(), 2) << e.name() << " is stored as a matrix";
      }
    }
  }
  // Every HF tensor but chatglm's unused inv_freq is in the file.
  const bool eva = std::string(GetParam()) == "glm4v-tiny";
  EXPECT_EQ(vision, eva ? 38 : 27);
  EXPECT_EQ((*file)->metadata().tensors_size(), eva ? 69 : 66);  // glm41v: q|k|v fused
}

TEST_P(VisionConvert, VisionHParamsInTheMetadata) {
  auto file = GlmqFile::Open(Convert());
  ASSERT_TRUE(file.ok()) << file.status();
  const pb::VisionHParams& v = (*file)->hparams().vision();
  if (std::string(GetParam()) == "glm4v-tiny") {
    EXPECT_EQ((*file)->hparams().layout(), pb::LAYOUT_CHATGLM_VISION);
    EXPECT_EQ(v.n_positions(), 65);
    EXPECT_EQ(v.scaling_factor(), 8);
    EXPECT_EQ(v.proj_norm_eps(), 1e-5);
    EXPECT_EQ(v.norm_eps(), 1e-6);
    EXPECT_TRUE(v.attention_bias());
    EXPECT_EQ(v.mlp_size(), 128);
    EXPECT_EQ(v.merger_size(), 640);
    EXPECT_EQ(v.hidden_act(), "gelu");
    EXPECT_EQ(v.image_start_token_id(), 4106);
    EXPECT_EQ(v.image_end_token_id(), 4107);
    EXPECT_EQ(v.preprocess().resize_size(), 112);
  } else {
    EXPECT_EQ((*file)->hparams().layout(), pb::LAYOUT_GLM4V);
    EXPECT_EQ(v.n_positions(), 100);
    EXPECT_EQ(v.scaling_factor(), 1);
    EXPECT_FALSE(v.attention_bias());
    EXPECT_EQ(v.rope_theta(), 10000);
    EXPECT_EQ(v.mlp_size(), 256);
    EXPECT_EQ(v.merger_size(), 640);
    EXPECT_EQ(v.hidden_act(), "silu");
    EXPECT_EQ(v.image_start_token_id(), 4106);
    EXPECT_EQ(v.image_end_token_id(), 4107);
    EXPECT_EQ(v.image_token_id(), 4110);
    EXPECT_EQ(v.preprocess().min_pixels(), 12544);  // preprocessor_config.json
    EXPECT_EQ(v.preprocess().max_pixels(), 37632);
    EXPECT_EQ((*file)->hparams().mrope_section_size(), 3);
  }
  ASSERT_EQ(v.preprocess().image_mean_size(), 3);
  EXPECT_FLOAT_EQ(v.preprocess().image_std(2), 0.27577711f);
  EXPECT_DOUBLE_EQ(v.preprocess().rescale_factor(), 1.0 / 255);
}

// The tower from a .glmq: img1's embeddings against the reference.
double Img1EmbedsDiff(const std::string& model, const std::string& glmq) {
  auto src = GlmqWeightSource::Open(glmq);
  EXPECT_TRUE(src.ok()) << src.status();
  if (!src.ok()) return 1e9;
  auto config = VisionConfigFromHParams((*src)->hparams());
  EXPECT_TRUE(config.ok()) << config.status();
  if (!config.ok()) return 1e9;
  CpuBackend be(2);
  auto tower = VisionTower::Load(**src, *config, &be);
  EXPECT_TRUE(tower.ok()) << tower.status();
  if (!tower.ok()) return 1e9;
  auto pixels = vision_test::ReadNpyF32(kRef + model + ".img1.pixel_values.npy");
  auto embeds = vision_test::ReadNpyF32(kRef + model + ".img1.vision_embeds.npy");
  EXPECT_TRUE(pixels.ok() && embeds.ok());
  absl::StatusOr<std::vector<float>> out =
      config->layout == pb::LAYOUT_CHATGLM_VISION
          ? (*tower)->EncodeImage(pixels->data, pixels->shape.at(2), pixels->shape.at(3))
          : (*tower)->EncodePatches(pixels->data, PatchGrid{1, 6, 8});
  EXPECT_TRUE(out.ok()) << out.status();
  if (!out.ok()) return 1e9;
  return vision_test::MaxAbsDiff(*out, embeds->data.data(),
                                 static_cast<int64_t>(embeds->data.size()));
}

TEST_P(VisionConvert, TowerFromTheGlmqMatchesTheReference) {
  const double diff = Img1EmbedsDiff(GetParam(), Convert());
  std::printf("%s: vision_embeds from the .glmq, max|diff| %.3g\n", GetParam(), diff);
  EXPECT_LE(diff, 1e-4);
}

// The default policy quantizes the text model and keeps the tower in bf16;
// --tensor-type reaches the tower's matrices.
TEST_P(VisionConvert, QuantizeKeepsTheTowerUnlessAsked) {
  const std::string bf16 = Convert();
  QuantizeOptions o;
  o.input = bf16;
  o.output = dir_ + "/q4.glmq";
  o.scheme = "int4-g128";
  auto q = QuantizeModel(o, nullptr);
  ASSERT_TRUE(q.ok()) << q.status();
  auto file = GlmqFile::Open(o.output);
  ASSERT_TRUE(file.ok()) << file.status();
  for (const pb::TensorEntry& e : (*file)->metadata().tensors()) {
    if (e.role() == pb::ROLE_VISION) {
      EXPECT_EQ(e.encoding(), pb::ENCODING_BF16) << e.name();
    }
    if (e.role() == pb::ROLE_ATTN_QKV) {
      EXPECT_EQ(e.encoding(), pb::ENCODING_Q4_SYM) << e.name();
    }
  }
  EXPECT_LE(Img1EmbedsDiff(GetParam(), o.output), 1e-4);  // the tower is untouched

  o.output = dir_ + "/q4v8.glmq";
  o.tensor_types = {
      "^v\\.(blk\\.\\d+\\.(attn_qkv|attn_output|ffn_\\w+)|proj_\\w+|proj)\\.weight$=q8"};
  q = QuantizeModel(o, nullptr);
  ASSERT_TRUE(q.ok()) << q.status();
  file = GlmqFile::Open(o.output);
  ASSERT_TRUE(file.ok());
  EXPECT_EQ((*file)->FindTensor("v.blk.0.attn_qkv.weight")->encoding(), pb::ENCODING_Q8_SYM);
  EXPECT_EQ((*file)->FindTensor("v.position_embd.weight")->encoding(), pb::ENCODING_BF16);
  const double diff = Img1EmbedsDiff(GetParam(), o.output);
  std::printf("%s: tower with q8 linears, vision_embeds max|diff| %.3g\n", GetParam(), diff);
  EXPECT_LT(diff, 5e-3);
}

// A rule that also matches the tensors the tower reads dense (position
// table, CLS / boi / eoi) quantizes the matrices and keeps those, saying so;
// the result loads and encodes.
TEST_P(VisionConvert, QuantizeKeepsDenseOnlyTensorsDense) {
  QuantizeOptions o;
  o.input = Convert();
  o.output = dir_ + "/v8.glmq";
  o.scheme = "none";
  o.tensor_types = {
      "^v\\.(blk\\.\\d+\\.\\w+\\.weight|proj\\w*\\.weight|position_embd\\.weight|"
      "cls_embd|boi|eoi)$=q8"};
  auto q = QuantizeModel(o, nullptr);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_THAT(q->kept_dense, ::testing::Contains("v.position_embd.weight"));
  auto file = GlmqFile::Open(o.output);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->FindTensor("v.blk.0.attn_qkv.weight")->encoding(), pb::ENCODING_Q8_SYM);
  for (const std::string& name : q->kept_dense) {
    EXPECT_EQ((*file)->FindTensor(name)->encoding(), pb::ENCODING_BF16) << name;
  }
  EXPECT_LT(Img1EmbedsDiff(GetParam(), o.output), 5e-3);
  o.tensor_types = {"^v\\.position_embd\\.weight$=q8"};
  q = QuantizeModel(o, nullptr);
  ASSERT_FALSE(q.ok());
  EXPECT_THAT(std::string(q.status().message()), ::testing::HasSubstr("reads dense"));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, VisionConvert, ::testing::Values("glm4v-tiny", "glm41v-tiny"));

}  // namespace
}  // namespace glmq
