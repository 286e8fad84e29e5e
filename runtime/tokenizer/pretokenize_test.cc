#include "runtime/tokenizer/pretokenize.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/tokenizer/unicode.h"

namespace glmq::tok {
namespace {

std::vector<std::string> Split(const std::string& text) {
  std::vector<absl::string_view> pieces;
  PreTokenize(text, &pieces);
  std::vector<std::string> out;
  std::string joined;
  for (absl::string_view p : pieces) {
    out.emplace_back(p);
    joined += std::string(p);
  }
  EXPECT_EQ(joined, text);  // pieces always tile the input
  return out;
}

using ::testing::ElementsAre;

TEST(PreTokenize, WordsAndSpaces) {
  EXPECT_THAT(Split("Hello world"), ElementsAre("Hello", " world"));
  EXPECT_THAT(Split("a   b"), ElementsAre("a", "  ", " b"));  // \s+(?!\S) gives one back
  EXPECT_THAT(Split("a   "), ElementsAre("a", "   "));         // at the end keeps all
  EXPECT_THAT(Split("a \n\n  b"), ElementsAre("a", " \n\n", " ", " b"));
  EXPECT_THAT(Split("\t\thi"), ElementsAre("\t", "\thi"));
  EXPECT_THAT(Split(" \t x"), ElementsAre(" \t", " x"));
  EXPECT_THAT(Split("x \n"), ElementsAre("x", " \n"));
  EXPECT_THAT(Split(""), ElementsAre());
}

TEST(PreTokenize, Contractions) {
  EXPECT_THAT(Split("I've"), ElementsAre("I", "'ve"));
  EXPECT_THAT(Split("HE'S 'Ll 'x"), ElementsAre("HE", "'S", " '", "Ll", " '", "x"));
  EXPECT_THAT(Split("'sup"), ElementsAre("'s", "up"));
  EXPECT_THAT(Split("a'\xC5\xBF"), ElementsAre("a", "'\xC5\xBF"));  // U+017F folds to s
}

TEST(PreTokenize, NumbersAndPunctuation) {
  EXPECT_THAT(Split("1234567"), ElementsAre("123", "456", "7"));
  EXPECT_THAT(Split("x=1;"), ElementsAre("x", "=", "1", ";"));
  EXPECT_THAT(Split(" !!?\n\nz"), ElementsAre(" !!?\n\n", "z"));
  EXPECT_THAT(Split("(abc)"), ElementsAre("(abc", ")"));
  EXPECT_THAT(Split("\r\n\r\nx"), ElementsAre("\r\n\r\n", "x"));
  EXPECT_THAT(Split("\xD9\xA3\xD9\xA4"), ElementsAre("\xD9\xA3\xD9\xA4"));  // Arabic-Indic digits
}

TEST(PreTokenize, Unicode) {
  EXPECT_THAT(Split("你好世界，再见"), ElementsAre("你好世界", "，再见"));
  // NBSP is White_Space; U+001C is not (although Python's isspace says so).
  EXPECT_THAT(Split("a\xC2\xA0\xC2\xA0" "b"), ElementsAre("a", "\xC2\xA0", "\xC2\xA0" "b"));
  EXPECT_THAT(Split("a\x1C" "b"), ElementsAre("a", "\x1C" "b"));
  EXPECT_EQ(ClassOf(0x3000), CpClass::kSpace);
  EXPECT_EQ(ClassOf(0x4E00), CpClass::kLetter);
  EXPECT_EQ(ClassOf(0x1F680), CpClass::kOther);   // 🚀
  EXPECT_EQ(ClassOf(0x20000), CpClass::kLetter);  // CJK Ext. B
  EXPECT_EQ(ClassOf(0x110000), CpClass::kOther);
}

TEST(PreTokenize, InvalidUtf8IsSingleOtherBytes) {
  EXPECT_THAT(Split("\xFF" "abc"), ElementsAre("\xFF" "abc"));  // a prefix like any symbol
  EXPECT_THAT(Split("ab\xC3"), ElementsAre("ab", "\xC3"));      // truncated sequence
  EXPECT_THAT(Split("\xE0\x80\x80"), ElementsAre("\xE0\x80\x80"));  // overlong: 3 bad bytes
  EXPECT_THAT(Split("\xED\xA0\x80 x"), ElementsAre("\xED\xA0\x80", " x"));  // surrogate
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  for (int i = 0; i < 8; ++i) all += all.substr(i * 13, 97);
  Split(all);  // tiles the input (checked inside), no crash
}

}  // namespace
}  // namespace glmq::tok
