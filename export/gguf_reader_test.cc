// GGUF writer -> reader round trip, and the reader on corrupt files: every
// truncation, bad magic / version / counts / lengths / offsets, unknown
// types, overlaps. Each must give an error naming the field, never crash.
#include "export/gguf_reader.h"

#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "core/file.h"
#include "export/gguf_writer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace glmq::gguf {
namespace {

using ::testing::HasSubstr;

std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "/gguf_reader_test_" + std::to_string(getpid()) + "_" + name;
}

// A small valid file: keys of each kind and two tensors (F32 [2,3], Q8_0 [1,32]).
std::string SmallFile() {
  GgufWriter w;
  w.AddString("general.architecture", "chatglm");
  w.AddU32("chatglm.block_count", 4);
  w.AddF32("chatglm.attention.layer_norm_rms_epsilon", 1e-5f);
  w.AddBool("tokenizer.ggml.add_bos_token", false);
  w.AddStringArray("tokenizer.ggml.tokens", {"a", "b", "[PAD2]"});
  w.AddI32Array("tokenizer.ggml.token_type", {1, 1, 5});
  EXPECT_EQ(*w.AddTensor("a.weight", {2, 3}, *FindTensorType(0)), 24u);
  EXPECT_EQ(*w.AddTensor("b.weight", {1, 32}, *FindTensorType(8)), 34u);
  const std::string path = TempPath("small.gguf");
  EXPECT_TRUE(w.Start(path).ok());
  std::vector<uint8_t> data(24 + 34, 0x11);
  data[24 + 1] = 0x3c;  // scale 1.0
  EXPECT_TRUE(w.Write(data.data(), 10).ok());
  EXPECT_TRUE(w.Write(data.data() + 10, data.size() - 10).ok());
  EXPECT_TRUE(w.Finish().ok());
  std::string bytes = *ReadFileToString(path);
  std::remove(path.c_str());
  return bytes;
}

absl::Status ParseBytes(const std::string& b) {
  return GgufFile::Parse({reinterpret_cast<const uint8_t*>(b.data()), b.size()}, "x.gguf").status();
}

TEST(GgufReader, RoundTrip) {
  const std::string b = SmallFile();
  auto f = GgufFile::Parse({reinterpret_cast<const uint8_t*>(b.data()), b.size()}, "x.gguf");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ((*f)->version(), 3u);
  EXPECT_EQ(*(*f)->GetString("general.architecture"), "chatglm");
  EXPECT_EQ(*(*f)->GetInt("chatglm.block_count"), 4);
  EXPECT_FLOAT_EQ(*(*f)->GetFloat("chatglm.attention.layer_norm_rms_epsilon"), 1e-5f);
  auto tokens = (*f)->GetArray("tokenizer.ggml.tokens", ValueType::kString);
  ASSERT_TRUE(tokens.ok());
  EXPECT_EQ((*tokens)->strings, (std::vector<std::string>{"a", "b", "[PAD2]"}));
  EXPECT_EQ((*(*f)->GetArray("tokenizer.ggml.token_type", ValueType::kI32))->ints,
            (std::vector<int64_t>{1, 1, 5}));
  ASSERT_EQ((*f)->tensors().size(), 2u);
  const TensorInfo* a = (*f)->FindTensor("a.weight");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->ne, (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(a->Shape(), (std::vector<int64_t>{2, 3}));
  const TensorInfo* q = (*f)->FindTensor("b.weight");
  EXPECT_EQ(q->offset % 32, 0u);
  EXPECT_EQ(q->size, 34u);
  EXPECT_EQ((*f)->TensorData(*q)[1], 0x3c);
  EXPECT_THAT((*f)->GetInt("general.architecture").status().message(), HasSubstr("not an integer"));
  EXPECT_THAT((*f)->GetString("nope").status().message(), HasSubstr("key 'nope' is missing"));
}

TEST(GgufReader, EveryTruncationFailsCleanly) {
  const std::string b = SmallFile();
  for (size_t n = 0; n < b.size(); ++n) {
    // Any prefix that cuts into the tensor data or before must be rejected.
    const absl::Status s = ParseBytes(b.substr(0, n));
    if (n >= b.size() - 30) continue;  // the padding after the last tensor (66 -> 96)
    EXPECT_FALSE(s.ok()) << "prefix " << n;
    EXPECT_THAT(std::string(s.message()), HasSubstr("x.gguf")) << "prefix " << n;
  }
}

TEST(GgufReader, RandomBytesNeverCrash) {
  std::string b = SmallFile();
  uint32_t seed = 1;
  for (int round = 0; round < 2000; ++round) {
    std::string m = b;
    for (int k = 0; k < 4; ++k) {
      seed = seed * 1664525u + 1013904223u;
      m[seed % m.size()] = static_cast<char>(seed >> 24);
    }
    (void)ParseBytes(m);  // must return, whatever it says
  }
}

void Poke64(std::string* b, size_t at, uint64_t v) { std::memcpy(&(*b)[at], &v, 8); }
void Poke32(std::string* b, size_t at, uint32_t v) { std::memcpy(&(*b)[at], &v, 4); }

TEST(GgufReader, HeaderErrorsNameTheField) {
  const std::string b = SmallFile();
  std::string m = b;
  m[0] = 'X';
  EXPECT_THAT(ParseBytes(m).message(), HasSubstr("not a GGUF file"));
  m = b;
  Poke32(&m, 4, 4);
  EXPECT_THAT(ParseBytes(m).message(), HasSubstr("GGUF version 4"));
  m = b;
  Poke64(&m, 8, uint64_t{1} << 60);
  EXPECT_THAT(ParseBytes(m).message(), HasSubstr("tensor_count"));
  m = b;
  Poke64(&m, 16, uint64_t{1} << 60);
  EXPECT_THAT(ParseBytes(m).message(), HasSubstr("kv_count"));
  m = b;
  Poke64(&m, 24, uint64_t{1} << 62);  // length of the first key
  EXPECT_THAT(ParseBytes(m).message(), HasSubstr("key of kv 0 at offset 24 has length"));
}

// Offset of `needle` in the file.
size_t Find(const std::string& b, const std::string& needle) {
  const size_t at = b.find(needle);
  EXPECT_NE(at, std::string::npos) << needle;
  return at;
}

TEST(GgufReader, KeyAndTensorErrorsNameThem) {
  const std::string b = SmallFile();
  std::string m = b;
  // The type of the first key (after its 8-byte length and 20 bytes of name).
  Poke32(&m, Find(b, "general.architecture") + 20, 99);
  EXPECT_THAT(ParseBytes(m).message(),
              HasSubstr("key 'general.architecture' has unknown value type 99"));
  m = b;
  Poke32(&m, Find(b, "tokenizer.ggml.tokens") + 21 + 4, 9);  // nested array
  EXPECT_THAT(ParseBytes(m).message(), HasSubstr("nested arrays"));
  m = b;
  Poke64(&m, Find(b, "tokenizer.ggml.tokens") + 21 + 8, uint64_t{1} << 40);
  EXPECT_THAT(ParseBytes(m).message(), HasSubstr("array count"));
  m = b;
  std::memcpy(&m[Find(b, "b.weight")], "a.weight", 8);
  EXPECT_THAT(ParseBytes(m).message(), HasSubstr("tensor 'a.weight' appears twice"));
  const size_t info = Find(b, "b.weight") + 8;  // n_dims, ne[2], type, offset
  m = b;
  Poke32(&m, info, 5);
  EXPECT_THAT(ParseBytes(m).message(), HasSubstr("tensor 'b.weight': n_dims 5"));
  m = b;
  Poke64(&m, info + 4, 0);
  EXPECT_THAT(ParseBytes(m).message(), HasSubstr("tensor 'b.weight': dimension 0 is 0"));
  m = b;
  Poke64(&m, info + 4, 33);
  EXPECT_THAT(ParseBytes(m).message(), HasSubstr("not a multiple of Q8_0's block of 32"));
  m = b;
  Poke32(&m, info + 20, 77);
  EXPECT_THAT(ParseBytes(m).message(), HasSubstr("tensor 'b.weight': unknown ggml type 77"));
  m = b;
  Poke64(&m, info + 24, 8);
  EXPECT_THAT(ParseBytes(m).message(), HasSubstr("offset 8 is not a multiple of the alignment 32"));
  m = b;
  Poke64(&m, info + 24, 0);
  EXPECT_THAT(ParseBytes(m).message(), HasSubstr("overlap"));
  m = b;
  Poke64(&m, info + 24, 1 << 20);
  EXPECT_THAT(ParseBytes(m).message(), HasSubstr("beyond the end of the data section"));
}

}  // namespace
}  // namespace glmq::gguf
