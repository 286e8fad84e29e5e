// The splice and position rules of both generations on small hand-made
// sequences (the fixtures' full prompts: tests/vision_logits_test.cc).
#include "runtime/vision/splice.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace glmq {
namespace {

using ::testing::HasSubstr;

pb::HParams Hp(pb::Layout layout) {
  pb::HParams hp;
  hp.set_layout(layout);
  hp.set_hidden_size(2);
  hp.mutable_vision()->set_image_start_token_id(90);
  hp.mutable_vision()->set_image_end_token_id(91);
  hp.mutable_vision()->set_image_token_id(layout == pb::LAYOUT_GLM4V ? 92 : 0);
  return hp;
}

ImageEmbeds Image(int64_t rows, int64_t grid_h = 0, int64_t grid_w = 0) {
  ImageEmbeds e;
  e.rows = rows;
  e.grid_h = grid_h;
  e.grid_w = grid_w;
  for (int64_t i = 0; i < 2 * rows; ++i) e.values.push_back(static_cast<float>(i));
  return e;
}

std::vector<int64_t> Stream(const SplicedSequence& s, int k) {
  return {s.positions.begin() + k * s.size(), s.positions.begin() + (k + 1) * s.size()};
}

TEST(Splice, Glm4vImageTokensShareOnePosition) {
  // a b boi ph eoi c d -> a b [boi t t eoi] c d
  const std::vector<int32_t> ids = {1, 2, 90, 5, 91, 3, 4};
  auto s = SpliceImages(Hp(pb::LAYOUT_CHATGLM_VISION), ids, {Image(4)});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->size(), 8);
  EXPECT_EQ(Stream(*s, 0), (std::vector<int64_t>{0, 1, 2, 3, 3, 4, 5, 6}));
  EXPECT_EQ(Stream(*s, 2), Stream(*s, 0));
  EXPECT_EQ(s->image_row, (std::vector<int64_t>{-1, -1, 0, 1, 2, 3, -1, -1}));
  EXPECT_EQ(s->rope_offset, -1);  // original index t sits at slot t + 1
  EXPECT_EQ(s->embeds.size(), 8u);
}

TEST(Splice, Glm41vMRopePositions) {
  // a start [img x 6: grid 2x3] end c
  std::vector<int32_t> ids = {1, 90};
  ids.insert(ids.end(), 6, 92);
  ids.insert(ids.end(), {91, 3});
  auto s = SpliceImages(Hp(pb::LAYOUT_GLM4V), ids, {Image(6, 2, 3)});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(Stream(*s, 0), (std::vector<int64_t>{0, 1, 2, 2, 2, 2, 2, 2, 5, 6}));
  EXPECT_EQ(Stream(*s, 1), (std::vector<int64_t>{0, 1, 2, 2, 2, 3, 3, 3, 5, 6}));
  EXPECT_EQ(Stream(*s, 2), (std::vector<int64_t>{0, 1, 2, 3, 4, 2, 3, 4, 5, 6}));
  EXPECT_EQ(s->rope_offset, 7 - 10);  // max position + 1 - length
}

TEST(Splice, ErrorsNameTheProblem) {
  const pb::HParams v4 = Hp(pb::LAYOUT_CHATGLM_VISION);
  const std::vector<int32_t> ids = {1, 90, 5, 91};
  EXPECT_THAT(std::string(SpliceImages(v4, ids, {Image(4), Image(4)}).status().message()),
              HasSubstr("2 image(s) given but the prompt has 1 image slot(s)"));
  EXPECT_THAT(std::string(SpliceImages(v4, {1, 90, 5, 6}, {Image(4)}).status().message()),
              HasSubstr("must be followed by one placeholder"));
  pb::HParams text = Hp(pb::LAYOUT_GLM4);
  EXPECT_THAT(std::string(SpliceImages(text, ids, {Image(4)}).status().message()),
              HasSubstr("takes no images"));
  std::vector<int32_t> v41ids = {90, 92, 92, 91};
  EXPECT_THAT(
      std::string(SpliceImages(Hp(pb::LAYOUT_GLM4V), v41ids, {Image(6, 2, 3)}).status().message()),
      HasSubstr("has 6 tokens but its slot at token 1 holds 2"));
}

}  // namespace
}  // namespace glmq
