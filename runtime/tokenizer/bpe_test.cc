#include "runtime/tokenizer/bpe.h"

#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/tokenizer/loaders.h"
#include "runtime/tokenizer/test_util.h"

namespace glmq::tok {
namespace {

using ::testing::HasSubstr;

BpeModel RankModel(const std::vector<std::string>& merged) {
  auto tokens = ParseTiktoken(testing::TiktokenFile(merged), "t.model");
  EXPECT_TRUE(tokens.ok()) << tokens.status();
  auto m = BpeModel::Create(BpeModel::Mode::kRanks, *std::move(tokens), "t.model");
  EXPECT_TRUE(m.ok()) << m.status();
  return *std::move(m);
}

std::vector<int32_t> Enc(const BpeModel& m, const std::string& s) {
  std::vector<int32_t> ids;
  m.Encode(s, &ids);
  return ids;
}

TEST(Base64, StrictDecoding) {
  EXPECT_EQ(*Base64Decode("aGk="), "hi");
  EXPECT_EQ(*Base64Decode("aGkh"), "hi!");
  EXPECT_FALSE(Base64Decode("aGk").ok());      // no padding
  EXPECT_FALSE(Base64Decode("a=Gk").ok());     // '=' inside
  EXPECT_FALSE(Base64Decode("aG*=").ok());     // bad character
  EXPECT_FALSE(Base64Decode("").ok());
}

TEST(Bpe, LowestRankMergesFirst) {
  // 256 "ab", 257 "bc", 258 "abc"; "abc": ab (256) merges before bc (257).
  BpeModel m = RankModel({"ab", "bc", "abc", "xy"});
  EXPECT_EQ(Enc(m, "abc"), (std::vector<int32_t>{258}));  // whole piece lookup
  EXPECT_EQ(Enc(m, "abcx"), (std::vector<int32_t>{258, 'x'}));  // byte ranks = byte values here
  EXPECT_EQ(Enc(m, "bcab"), (std::vector<int32_t>{257, 256}));
  EXPECT_EQ(Enc(m, "q"), (std::vector<int32_t>{'q'}));
}

TEST(Bpe, LinearAndHeapAgree) {
  BpeModel m = RankModel({"ab", "ba", "aa", "aba", "bab", "abab", "aaa", "bb", "abba", "cab"});
  std::mt19937 rng(7);
  for (int iter = 0; iter < 2000; ++iter) {
    std::string s;
    const int n = 1 + rng() % 80;
    for (int i = 0; i < n; ++i) s.push_back("abc"[rng() % 3]);
    std::vector<int32_t> lin, heap;
    m.EncodeWith(s, false, &lin);
    m.EncodeWith(s, true, &heap);
    ASSERT_EQ(lin, heap) << s;
    std::string back;
    for (int32_t id : lin) back += std::string(m.TokenBytes(id));
    ASSERT_EQ(back, s);
  }
}

TEST(Bpe, MergesModeUsesListOrder) {
  std::vector<std::pair<std::string, int32_t>> tokens;
  for (int b = 0; b < 256; ++b) tokens.emplace_back(std::string(1, char(b)), b);
  tokens.emplace_back("bc", 256);
  tokens.emplace_back("ab", 257);
  tokens.emplace_back("abc", 258);
  auto m = BpeModel::Create(BpeModel::Mode::kMerges, tokens, "t.json");
  ASSERT_TRUE(m.ok());
  m->set_whole_piece_lookup(false);
  ASSERT_TRUE(m->AddMerge("a", "b", 0, "t.json").ok());  // ab first although its id is higher
  ASSERT_TRUE(m->AddMerge("b", "c", 1, "t.json").ok());
  EXPECT_EQ(Enc(*m, "abc"), (std::vector<int32_t>{257, 'c'}));  // no (ab, c) merge
  ASSERT_TRUE(m->AddMerge("ab", "c", 2, "t.json").ok());
  EXPECT_EQ(Enc(*m, "abc"), (std::vector<int32_t>{258}));
  EXPECT_THAT(m->AddMerge("x", "y", 3, "t.json").message(), HasSubstr("merge 3"));
}

TEST(Tiktoken, MalformedFilesAreNamedErrors) {
  const std::string good = testing::TiktokenFile({"ab"});
  EXPECT_TRUE(ParseTiktoken(good, "tokenizer.model").ok());
  EXPECT_THAT(ParseTiktoken("YQ== 0\nY*== 1\n", "tokenizer.model").status().message(),
              HasSubstr("tokenizer.model line 2: bad base64"));
  EXPECT_THAT(ParseTiktoken("YQ== 0\nYg== 0\n", "tokenizer.model").status().message(),
              HasSubstr("line 2: duplicate rank 0 (first on line 1)"));
  EXPECT_THAT(ParseTiktoken("YQ== 0\nYg== 2\n", "tokenizer.model").status().message(),
              HasSubstr("rank 1 is missing"));
  EXPECT_THAT(ParseTiktoken("YQ== x\n", "tokenizer.model").status().message(),
              HasSubstr("line 1: bad rank 'x'"));
  EXPECT_THAT(ParseTiktoken("YQ==\n", "tokenizer.model").status().message(),
              HasSubstr("line 1: expected"));
  EXPECT_THAT(ParseTiktoken("", "tokenizer.model").status().message(), HasSubstr("no tokens"));
  // Duplicate bytes and a missing single byte are caught when building the model.
  auto dup = ParseTiktoken(good + "YWI= 257\n", "tokenizer.model");
  ASSERT_TRUE(dup.ok());
  EXPECT_THAT(BpeModel::Create(BpeModel::Mode::kRanks, *dup, "tokenizer.model").status().message(),
              HasSubstr("duplicate token bytes"));
  auto few = ParseTiktoken("YQ== 0\n", "tokenizer.model");
  EXPECT_THAT(BpeModel::Create(BpeModel::Mode::kRanks, *few, "tokenizer.model").status().message(),
              HasSubstr("byte 0x00 has no token"));
}

}  // namespace
}  // namespace glmq::tok
