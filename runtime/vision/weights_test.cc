// Malformed vision weights and inputs: each is a clear error naming the
// tensor (or field), never a crash. Starts from the fixture towers and breaks
// one thing at a time.
#include <functional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/cpu/cpu_backend.h"
#include "runtime/vision/test_util.h"
#include "runtime/vision/vision_tower.h"

namespace glmq {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using vision_test::FixtureTower;

const std::string kModels = std::string(GLMQ_SHARED_DIR) + "/fixtures/models/";

FixtureTower Glm4v() { return vision_test::LoadFixtureTower(kModels + "glm4v-tiny").value(); }
FixtureTower Glm41v() { return vision_test::LoadFixtureTower(kModels + "glm41v-tiny").value(); }

std::string LoadError(const FixtureTower& t) {
  absl::StatusOr<VisionWeights> w = LoadVisionWeights(*t.source, t.config);
  return w.ok() ? "OK" : std::string(w.status().message());
}

// The fixture with its hparams edited: the error comes from the loader or
// from the config the hparams give.
std::string EditedError(const char* model, const std::function<void(pb::HParams*)>& edit) {
  absl::StatusOr<FixtureTower> t = vision_test::LoadFixtureTower(kModels + model, edit);
  return t.ok() ? LoadError(*t) : std::string(t.status().message());
}

TEST(VisionWeights, FixturesLoadEveryTableTensor) {
  for (auto load : {Glm4v, Glm41v}) {
    const FixtureTower t = load();
    EXPECT_EQ(LoadError(t), "OK");
    auto tensors = VisionTensors(t.source->hparams());
    ASSERT_TRUE(tensors.ok()) << tensors.status();
    // glm4v-tiny: 14 + 2 x 12 tensors; glm41v-tiny: 13 + 2 x 7 (qkv without bias).
    EXPECT_EQ(tensors->size(), t.config.layout == pb::LAYOUT_CHATGLM_VISION ? 38u : 27u);
  }
}

TEST(VisionWeights, WrongShapeNamesTensorAndShapes) {
  FixtureTower t = Glm4v();
  const std::string name = "v.blk.1.attn_qkv.weight";
  t.source->AddBf16(name, {64, 192}, std::vector<float>(64 * 192));
  EXPECT_THAT(LoadError(t),
              AllOf(HasSubstr(name), HasSubstr("[64, 192]"), HasSubstr("expected [192, 64]")));
}

TEST(VisionWeights, ConvolutionsAreMatrices) {
  FixtureTower t = Glm41v();
  const std::string name = "v.patch_embd.weight";
  EXPECT_EQ(t.source->Find(name)->shape.size(), 2u);
  t.source->AddBf16(name, {64, 3, 2, 14, 14}, std::vector<float>(64 * 1176));  // the HF shape
  EXPECT_THAT(LoadError(t), AllOf(HasSubstr(name), HasSubstr("expected [64, 1176]")));
}

TEST(VisionWeights, MissingTensorIsNamed) {
  // attention_bias asks for the qkv bias the fixture does not have.
  EXPECT_THAT(EditedError("glm41v-tiny",
                          [](pb::HParams* hp) { hp->mutable_vision()->set_attention_bias(true); }),
              HasSubstr("v.blk.0.attn_qkv.bias"));
}

TEST(VisionWeights, QuantizedVectorsAndTablesAreRejected) {
  FixtureTower t = Glm4v();
  const std::string norm = "v.proj_norm.weight";
  t.source->AddEncoded(norm, pb::ENCODING_Q8_SYM, 32, {256}, std::string(256 + 16, '\0'));
  EXPECT_THAT(LoadError(t), AllOf(HasSubstr(norm), HasSubstr("must be f32, f16 or bf16")));
  t = Glm41v();
  const std::string pos = "v.position_embd.weight";
  t.source->AddEncoded(pos, pb::ENCODING_Q8_SYM, 32, {100, 64}, std::string(100 * 68, '\0'));
  EXPECT_THAT(LoadError(t), AllOf(HasSubstr(pos), HasSubstr("must be f32, f16 or bf16")));
}

TEST(VisionWeights, TruncatedBytesAreRejected) {
  FixtureTower t = Glm41v();
  const std::string name = "v.proj_down.weight";
  t.source->AddEncoded(name, pb::ENCODING_BF16, 0, {256, 640}, std::string(1000, '\0'));
  EXPECT_THAT(LoadError(t), AllOf(HasSubstr(name), HasSubstr("needs 327680 bytes, has 1000")));
}

TEST(VisionWeights, BadConfigNamesTheField) {
  EXPECT_THAT(EditedError("glm4v-tiny", [](pb::HParams* hp) { hp->mutable_vision()->set_n_heads(5); }),
              HasSubstr("does not divide hidden_size"));
  // head_dim 2: the 2-D RoPE needs a multiple of 4.
  EXPECT_THAT(
      EditedError("glm41v-tiny", [](pb::HParams* hp) { hp->mutable_vision()->set_n_heads(32); }),
      HasSubstr("multiple of 4"));
  pb::HParams text_only;
  text_only.set_layout(pb::LAYOUT_GLM4);
  EXPECT_THAT(std::string(VisionConfigFromHParams(text_only).status().message()),
              HasSubstr("has no vision tower"));
}

TEST(VisionTower, BadInputsAreErrors) {
  FixtureTower eva = Glm4v(), vit = Glm41v();
  CpuBackend be(1);
  auto eva_tower = VisionTower::Load(*eva.source, eva.config, &be).value();
  auto vit_tower = VisionTower::Load(*vit.source, vit.config, &be).value();
  std::vector<float> pixels(3 * 112 * 112);
  EXPECT_THAT(std::string(eva_tower->EncodeImage(pixels, 98, 98).status().message()),
              HasSubstr("does not fit the tower"));
  EXPECT_THAT(
      std::string(eva_tower->EncodeImage({pixels.data(), 100}, 112, 112).status().message()),
      HasSubstr("100 pixel values"));
  EXPECT_EQ(eva_tower->EncodePatches(pixels, {1, 2, 2}).status().code(),
            absl::StatusCode::kFailedPrecondition);
  std::vector<float> patches(48 * 1176);
  EXPECT_THAT(std::string(vit_tower->EncodePatches(patches, {1, 6, 7}).status().message()),
              HasSubstr("multiples of 2"));
  EXPECT_THAT(std::string(vit_tower->EncodePatches(patches, {1, 4, 8}).status().message()),
              HasSubstr("expected 32 patches of 1176"));
  EXPECT_TRUE(vit_tower->EncodePatches(patches, {2, 4, 6}).ok());  // two frames of 24
}

}  // namespace
}  // namespace glmq
