// The GGUF vocabulary of the trained fixture tokenizer: byte-level strings,
// one merge per multi-byte token, and back to a tokenizer that encodes the
// same ids.
#include "export/gguf_vocab.h"

#include <string>

#include "core/file.h"
#include "gtest/gtest.h"

namespace glmq::gguf {
namespace {

TEST(GgufVocab, ByteLevelStrings) {
  EXPECT_EQ(BytesToByteLevel("\n"), "\xC4\x8A");  // U+010A 'Ċ'
  EXPECT_EQ(BytesToByteLevel(" a"),
            "\xC4\xA0"
            "a");                                   // U+0120 'Ġ'
  EXPECT_EQ(BytesToByteLevel("\xE4"), "\xC3\xA4");  // printable Latin-1 keeps its code point
}

TEST(GgufVocab, FixtureTokenizer) {
  auto tok = Tokenizer::FromDir(std::string(GLMQ_SHARED_DIR) + "/fixtures/models/glm4-tiny-chat");
  ASSERT_TRUE(tok.ok()) << tok.status();
  auto v = BuildGgufVocab(**tok, 4160);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->tokens.size(), 4160u);
  EXPECT_EQ(v->tokens[198], "\xC4\x8A");
  EXPECT_EQ(v->types[198], kTokenNormal);
  EXPECT_EQ(v->tokens[4098], "[gMASK]");
  EXPECT_EQ(v->types[4098], kTokenControl);
  EXPECT_EQ(v->tokens[4150], "[PAD4150]");
  EXPECT_EQ(v->types[4150], kTokenUnused);
  EXPECT_EQ(v->unmergeable, 0);
  EXPECT_EQ(v->merges.size(), 4096u - 256u);  // every regular token past the bytes
}

}  // namespace
}  // namespace glmq::gguf
