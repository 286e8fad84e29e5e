// Tokenizer on small in-memory files: specials, chat, eos, errors, bad UTF-8.
#include "runtime/tokenizer/tokenizer.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/tokenizer/test_util.h"

namespace glmq {
namespace {

using ::testing::HasSubstr;

constexpr char kConfig[] = R"({
  "added_tokens_decoder": {
    "300": {"content": "<|endoftext|>", "special": true},
    "301": {"content": "[gMASK]", "special": true},
    "302": {"content": "<sop>", "special": true},
    "303": {"content": "<|user|>", "special": true},
    "304": {"content": "<|assistant|>", "special": true},
    "305": {"content": "<|system|>", "special": true}
  },
  "eos_token": "<|endoftext|>"
})";

std::map<std::string, std::string> Files() {
  return {{"tokenizer.model", tok::testing::TiktokenFile({"he", "ll", "hell", "hello", " w"})},
          {"tokenizer_config.json", kConfig},
          {"generation_config.json", R"({"eos_token_id": [300, 303]})"}};
}

std::unique_ptr<Tokenizer> Make(std::map<std::string, std::string> files = Files()) {
  auto t = Tokenizer::FromFiles(files);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *std::move(t) : nullptr;
}

TEST(Tokenizer, SpecialsAreTextUnlessAllowed) {
  auto t = Make();
  EXPECT_EQ(t->vocab_size(), 306);
  EXPECT_EQ(t->kind(), "tiktoken");
  EXPECT_EQ(t->SpecialTokenId("<sop>"), 302);
  EXPECT_EQ(t->SpecialTokenId("<nope>"), std::nullopt);
  const std::string text = "hello<|user|>hello";
  const std::vector<int32_t> plain = t->Encode(text);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 303), 0);
  EXPECT_EQ(t->Decode(plain), text);
  EXPECT_EQ(t->Encode(text, true), (std::vector<int32_t>{259, 303, 259}));
  EXPECT_EQ(t->Decode(t->Encode(text, true)), text);
  EXPECT_EQ(t->DecodeToken(303), "<|user|>");
  EXPECT_EQ(t->DecodeToken(9999), "");
}

TEST(Tokenizer, EosFromConfigAndGenerationConfig) {
  auto t = Make();
  EXPECT_TRUE(t->IsEos(300));
  EXPECT_TRUE(t->IsEos(303));
  EXPECT_FALSE(t->IsEos(304));
  auto files = Files();
  auto t2 = Tokenizer::FromFiles(files, TokenizerOptions{{304}});
  ASSERT_TRUE(t2.ok());
  EXPECT_TRUE((*t2)->IsEos(304));
}

TEST(Tokenizer, ChatFormat) {
  auto t = Make();
  std::vector<ChatMessage> msgs = {{"system", "hi"}, {"user", "hello"}};
  std::vector<int32_t> want = {301, 302, 305};
  for (int32_t id : t->Encode("\nhi")) want.push_back(id);
  want.push_back(303);
  for (int32_t id : t->Encode("\nhello")) want.push_back(id);
  EXPECT_EQ(*t->EncodeChat(msgs, false), want);
  want.push_back(304);
  EXPECT_EQ(*t->EncodeChat(msgs), want);
  // A template whose generation prompt is "<|assistant|>\n" adds a newline.
  auto files = Files();
  files["tokenizer_config.json"].insert(
      1, R"("chat_template": "[gMASK]<sop>{% if add_generation_prompt %}<|assistant|>\n{% endif %}",)");
  auto t2 = Make(files);
  std::vector<int32_t> got = *t2->EncodeChat({{"user", "hello"}});
  EXPECT_EQ(got.back(), '\n');
  EXPECT_EQ(got[got.size() - 2], 304);
}

TEST(Tokenizer, SpecialTokensInMessagesStayTextUnlessAsked) {
  auto t = Make();
  Conversation c;
  c.Add("user", "hi<|assistant|>ok");
  const std::vector<int32_t> plain = *t->EncodeChat(c);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 304), 1);  // the generation prompt only
  EXPECT_EQ(t->Decode(plain), "[gMASK]<sop><|user|>\nhi<|assistant|>ok<|assistant|>");
  ChatEncodeOptions o;
  o.special_in_messages = true;
  const std::vector<int32_t> special = *t->EncodeChat(c, o);
  EXPECT_EQ(std::count(special.begin(), special.end(), 304), 2);
}

TEST(Tokenizer, PrefixIsTheEncodeDefault) {
  auto t = Make();
  EXPECT_EQ(t->prefix_ids(), (std::vector<int32_t>{301, 302}));
  std::vector<int32_t> want = {301, 302};
  for (int32_t id : t->Encode("hello")) want.push_back(id);
  EXPECT_EQ(t->EncodeWithPrefix("hello"), want);
  // Text that already starts with the prefix (with specials) gets it once.
  EXPECT_EQ(t->EncodeWithPrefix("[gMASK]<sop>hello", true), want);
  EXPECT_NE(t->EncodeWithPrefix("[gMASK]<sop>hello", false), want);
}

TEST(Tokenizer, ChatTemplateErrorsOnlyWhenChatting) {
  auto files = Files();
  files["tokenizer_config.json"].insert(1, R"("chat_template": "{% include 'x' %}",)");
  auto t = Make(files);
  EXPECT_EQ(t->Encode("hello").size(), 1u);  // plain encoding still works
  auto r = t->EncodeChat({{"user", "hello"}});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(),
              HasSubstr("tokenizer_config.json chat_template: chat template line 1: unsupported "
                        "tag 'include'"));
  Conversation bad;
  bad.Add("tool", "x");
  EXPECT_THAT(Make()->EncodeChat(bad).status().message(),
              HasSubstr("role 'tool' is not one of GLM-4's"));
}

TEST(Tokenizer, InvalidUtf8RoundTrips) {
  auto t = Make();
  std::string s = "he\xFF\xFEll\xC3(\xE0\x80\x80 w\xF4\x90\x80\x80";
  for (int b = 0; b < 256; ++b) s.push_back(static_cast<char>(b));
  EXPECT_EQ(t->Decode(t->Encode(s)), s);
  EXPECT_EQ(t->Decode(t->Encode(s, true)), s);
}

TEST(Tokenizer, FileErrorsNameTheFile) {
  EXPECT_THAT(Tokenizer::FromFiles({}).status().message(), HasSubstr("no tokenizer.model"));
  auto files = Files();
  files["tokenizer.model"] += "!!!! 1\n";
  EXPECT_THAT(Tokenizer::FromFiles(files).status().message(),
              HasSubstr("tokenizer.model line 262"));
  files = Files();
  files["tokenizer_config.json"] = "{\"eos_token\": \"<nope>\"}";
  EXPECT_THAT(Tokenizer::FromFiles(files).status().message(),
              HasSubstr("tokenizer_config.json: field 'eos_token'"));
  files = Files();
  files["tokenizer_config.json"] = "{\"added_tokens_decoder\": {\"7\": {\"content\": \"x\"}}}";
  EXPECT_THAT(Tokenizer::FromFiles(files).status().message(), HasSubstr("also a regular token"));
  files = Files();
  files["tokenizer_config.json"] = "{\"added_tokens_decoder\": {\"x\": {}}}";
  EXPECT_THAT(Tokenizer::FromFiles(files).status().message(),
              HasSubstr("added_tokens_decoder['x']"));
}

TEST(Tokenizer, HfJsonErrorsNameTheField) {
  std::map<std::string, std::string> files = {{"tokenizer.json", R"({"model": {"type": "BPE"}})"}};
  EXPECT_THAT(Tokenizer::FromFiles(files).status().message(),
              HasSubstr("tokenizer.json: field 'pre_tokenizer'"));
  files["tokenizer.json"] = R"({"pre_tokenizer": {"type": "Sequence", "pretokenizers": [
      {"type": "Split", "pattern": {"Regex": "\\s+"}, "behavior": "Isolated"},
      {"type": "ByteLevel", "use_regex": false}]}, "model": {}})";
  EXPECT_THAT(Tokenizer::FromFiles(files).status().message(),
              HasSubstr("field 'pre_tokenizer.pattern'"));
  files["tokenizer.json"] = "{not json";
  EXPECT_THAT(Tokenizer::FromFiles(files).status().message(), HasSubstr("tokenizer.json"));
}

}  // namespace
}  // namespace glmq
