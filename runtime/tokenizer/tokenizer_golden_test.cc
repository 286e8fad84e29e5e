// Golden tests on the shared data: the real GLM-4 tokenizer.model against
// test_vectors.json, and the three fixture tokenizers against valid_tokens.npy.
#include <string>

#include "core/file.h"
#include "core/json.h"
#include "gtest/gtest.h"
#include "runtime/tokenizer/bpe.h"
#include "runtime/tokenizer/loaders.h"
#include "runtime/tokenizer/npy.h"
#include "runtime/tokenizer/pretokenize.h"
#include "runtime/tokenizer/tokenizer.h"

namespace glmq {
namespace {

const std::string kShared = GLMQ_SHARED_DIR;
const std::string kGlm4 = kShared + "/reference/tokenizer/glm-4";
const std::string kFixtures = kShared + "/fixtures";
const char* const kFixtureModels[] = {"glm4-tiny-chat", "glm4-tiny-chat-hf", "glm4-tiny-0414"};

std::string Read(const std::string& path) {
  auto s = ReadFileToString(path);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : std::string();
}

std::unique_ptr<Tokenizer> RealGlm4(const std::string& config_dir = "glm-4-9b-chat") {
  auto t = Tokenizer::FromFiles(
      {{"tokenizer.model", Read(kGlm4 + "/tokenizer.model")},
       {"tokenizer_config.json", Read(kGlm4 + "/" + config_dir + "/tokenizer_config.json")}});
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *std::move(t) : nullptr;
}

std::vector<int32_t> Ids(const Json& j) { return j.get<std::vector<int32_t>>(); }

TEST(Glm4Golden, TestVectors) {
  auto t = RealGlm4();
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->vocab_size(), 151343);
  auto vectors = ParseJson(Read(kGlm4 + "/test_vectors.json"), "test_vectors.json");
  ASSERT_TRUE(vectors.ok());
  const std::vector<int32_t> prefix = Ids((*vectors)["special_prefix"]);
  int n_checked = 0;
  for (const Json& c : (*vectors)["cases"]) {
    const std::string text = c["text"];
    std::vector<int32_t> got = t->Encode(text);
    if (c.contains("ids_no_prefix")) {
      EXPECT_EQ(got, Ids(c["ids_no_prefix"])) << c["name"];
    } else {
      got.insert(got.begin(), prefix.begin(), prefix.end());
      EXPECT_EQ(got, Ids(c["ids_with_prefix"])) << c["name"];
    }
    EXPECT_EQ(t->Decode(t->Encode(text)), text);
    ++n_checked;
  }
  for (const Json& c : (*vectors)["chat_cases"]) {
    std::vector<ChatMessage> msgs;
    for (const Json& m : c["messages"]) msgs.push_back({m["role"], m["content"]});
    EXPECT_EQ(*t->EncodeChat(msgs), Ids(c["ids"])) << c["name"];
    ++n_checked;
  }
  EXPECT_EQ(n_checked, 7);
}

TEST(Glm4Golden, SpecialsAndEos) {
  auto t = RealGlm4();
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->SpecialTokenId("[gMASK]"), 151331);
  EXPECT_EQ(t->SpecialTokenId("<|end_of_video|>"), 151342);
  EXPECT_TRUE(t->IsEos(151329));
  EXPECT_EQ(t->Encode("[gMASK]<sop>", true), (std::vector<int32_t>{151331, 151333}));
  EXPECT_GT(t->Encode("[gMASK]<sop>", false).size(), 2u);
  // The base model's config (no chat template) gives the same chat ids.
  auto base = RealGlm4("glm-4-9b");
  ASSERT_NE(base, nullptr);
  EXPECT_EQ(*base->EncodeChat({{"user", "你好"}}), *t->EncodeChat({{"user", "你好"}}));
}

TEST(Glm4Golden, LinearAndHeapMergeAgreeOnValidText) {
  auto tokens = tok::ParseTiktoken(Read(kGlm4 + "/tokenizer.model"), "tokenizer.model");
  ASSERT_TRUE(tokens.ok());
  auto bpe = tok::BpeModel::Create(tok::BpeModel::Mode::kRanks, *std::move(tokens), "t");
  ASSERT_TRUE(bpe.ok());
  const std::string text = Read(kFixtures + "/text/valid.txt");
  std::vector<absl::string_view> pieces;
  tok::PreTokenize(text, &pieces);
  for (absl::string_view p : pieces) {
    std::vector<int32_t> a, b;
    bpe->EncodeWith(p, false, &a);
    bpe->EncodeWith(p, true, &b);
    ASSERT_EQ(a, b) << p;
  }
}

class FixtureGolden : public ::testing::TestWithParam<const char*> {};

TEST_P(FixtureGolden, ValidTokensExactly) {
  auto t = Tokenizer::FromDir(kFixtures + "/models/" + GetParam());
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ((*t)->vocab_size(), 4110);
  auto want = tok::ReadNpyInt32(kFixtures + "/reference/valid_tokens.npy");
  ASSERT_TRUE(want.ok()) << want.status();
  EXPECT_EQ(want->size(), 76081u);
  const std::string text = Read(kFixtures + "/text/valid.txt");
  const std::vector<int32_t> got = (*t)->Encode(text);
  ASSERT_EQ(got.size(), want->size());
  EXPECT_EQ(got, *want);
  EXPECT_EQ((*t)->Decode(got), text);
  for (int32_t eos : {4096, 4103, 4105}) EXPECT_TRUE((*t)->IsEos(eos)) << eos;
  EXPECT_FALSE((*t)->IsEos(4104));
}

TEST_P(FixtureGolden, ChatFollowsTheModelsTemplate) {
  auto t = Tokenizer::FromDir(kFixtures + "/models/" + GetParam());
  ASSERT_TRUE(t.ok()) << t.status();
  std::vector<int32_t> want = {4098, 4100, 4103};
  for (int32_t id : (*t)->Encode("\nHello")) want.push_back(id);
  want.push_back(4104);
  // glm4-tiny-chat's template ends in "<|assistant|>", the HF ones in "<|assistant|>\n".
  if (std::string(GetParam()) != "glm4-tiny-chat") want.push_back(198);
  EXPECT_EQ(*(*t)->EncodeChat({{"user", "Hello"}}), want);
}

TEST_P(FixtureGolden, PrefixAsTheTokenizerFiles) {
  auto t = Tokenizer::FromDir(kFixtures + "/models/" + GetParam());
  ASSERT_TRUE(t.ok()) << t.status();
  // ChatGLM4Tokenizer and the -hf tokenizer.json (TemplateProcessing) add
  // [gMASK]<sop>; GLM-4-0414's tokenizer.json adds nothing.
  const std::vector<int32_t> want = std::string(GetParam()) == "glm4-tiny-0414"
                                        ? std::vector<int32_t>{}
                                        : std::vector<int32_t>{4098, 4100};
  EXPECT_EQ((*t)->prefix_ids(), want);
}

INSTANTIATE_TEST_SUITE_P(Models, FixtureGolden, ::testing::ValuesIn(kFixtureModels),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n) if (c == '-') c = '_';
                           return n;
                         });

TEST(FixtureGolden, TiktokenAndTokenizerJsonAgreeOnTrainText) {
  auto a = Tokenizer::FromDir(kFixtures + "/models/glm4-tiny-chat");
  auto b = Tokenizer::FromDir(kFixtures + "/models/glm4-tiny-0414");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ((*a)->kind(), "tiktoken");
  EXPECT_EQ((*b)->kind(), "hf-bpe");
  const std::string text = Read(kFixtures + "/text/train.txt");
  EXPECT_EQ((*a)->Encode(text), (*b)->Encode(text));
}

}  // namespace
}  // namespace glmq
