// glmq convert on the three trained fixtures: every canonical tensor must be
// bit-identical to its safetensors source (fused tensors to the row
// concatenation of their parts), read back independently of the converter.
#include <algorithm>
#include <filesystem>
#include <string>

#include "pipeline/convert.h"
#include "convert/safetensors.h"
#include "pipeline/source.h"
#include "core/json.h"
#include "format/reader.h"
#include "gtest/gtest.h"

namespace glmq {
namespace {

namespace fs = std::filesystem;
const std::string kModels = std::string(GLMQ_SHARED_DIR) + "/fixtures/models/";

// All shards of a fixture, opened directly.
std::vector<std::unique_ptr<SafetensorsFile>> Shards(const std::string& dir) {
  std::vector<std::unique_ptr<SafetensorsFile>> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".safetensors") continue;
    auto f = SafetensorsFile::Open(e.path().string());
    EXPECT_TRUE(f.ok()) << f.status();
    out.push_back(std::move(*f));
  }
  return out;
}

std::string SourceBytes(const std::vector<std::unique_ptr<SafetensorsFile>>& shards,
                        const pb::TensorEntry& e) {
  std::string bytes;
  for (const std::string& name : e.source_names()) {
    bool found = false;
    for (const auto& s : shards) {
      if (const SafetensorsTensor* t = s->Find(name)) {
        auto d = s->Data(*t);
        bytes.append(reinterpret_cast<const char*>(d.data()), d.size());
        found = true;
      }
    }
    EXPECT_TRUE(found) << name;
  }
  return bytes;
}

std::string TempPath(const std::string& name) {
  return (fs::temp_directory_path() / (name + "." + std::to_string(::getpid()) + ".glmq")).string();
}

class Fixtures : public ::testing::TestWithParam<const char*> {};

TEST_P(Fixtures, ConvertIsBitExact) {
  const std::string dir = kModels + GetParam();
  const std::string out = TempPath(GetParam());
  ConvertOptions opt;
  opt.chunk_values = 2048;  // many chunks per tensor, and chunks spanning q|k|v
  auto stats = ConvertHfToGlmq(dir, out, opt);
  ASSERT_TRUE(stats.ok()) << stats.status();
  auto file = GlmqFile::Open(out);
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_TRUE((*file)->VerifyChecksums().ok());
  const pb::ModelMetadata& md = (*file)->metadata();
  const bool four = std::string(GetParam()) == "glm4-tiny-0414";
  EXPECT_EQ(md.tensors_size(), 3 + 4 * (four ? 9 : 7));
  EXPECT_EQ(md.hparams().vocab_size(), 4110);
  EXPECT_EQ(md.tokenizer().special_tokens().at("<|user|>"), 4103);
  EXPECT_EQ(md.tokenizer().eos_token_ids_size(), 3);
  EXPECT_FALSE(md.tokenizer().chat_template().empty());
  EXPECT_FALSE(md.provenance().tool_version().empty());
  EXPECT_FALSE(md.provenance().created_utc().empty());
  for (const pb::SourceFile& f : md.provenance().source_files()) {
    EXPECT_NE(f.xxh64(), 0u) << f.name();
  }
  auto shards = Shards(dir);
  uint64_t total = 0;
  for (const pb::TensorEntry& e : md.tensors()) {
    auto data = (*file)->TensorData(e);
    const std::string want = SourceBytes(shards, e);
    ASSERT_EQ(data.size(), want.size()) << e.name();
    EXPECT_EQ(0, std::memcmp(data.data(), want.data(), want.size())) << e.name();
    EXPECT_EQ(e.encoding(), pb::ENCODING_BF16);
    total += data.size();
  }
  EXPECT_EQ(total, stats->tensor_bytes_written);
  // The same through OpenGlmqSource / OpenHfCheckpoint row reads.
  auto gsrc = OpenGlmqSource(out);
  auto hsrc = OpenHfCheckpoint(dir);
  ASSERT_TRUE(gsrc.ok() && hsrc.ok());
  const pb::TensorEntry* qkv = (*hsrc)->FindTensor("blk.1.attn_qkv.weight");
  ASSERT_NE(qkv, nullptr);
  std::vector<float> a(180 * 256), b(180 * 256);  // qkv has 384 rows: q 256 | k 64 | v 64
  ASSERT_TRUE((*hsrc)->ReadRowsF32(*qkv, 200, 380, a.data()).ok());  // crosses q|k|v
  ASSERT_TRUE((*gsrc)->ReadRowsF32(*(*gsrc)->FindTensor(qkv->name()), 200, 380, b.data()).ok());
  EXPECT_EQ(a, b);
  EXPECT_FALSE((*hsrc)->ReadRowsF32(*qkv, 300, 400, a.data()).ok());  // past the end
  fs::remove(out);
}

// ReadRowsInto (O_DIRECT where the file system allows it, and the forced
// pread fallback) returns ReadRowsRaw's bytes for every tensor of the HF
// folder and of its .glmq, in chunks of 37 rows (crossing q|k|v and
// gate|up inside fused tensors, unaligned file offsets).
TEST_P(Fixtures, ReadRowsIntoMatchesReadRowsRaw) {
  const std::string dir = kModels + GetParam();
  const std::string out = TempPath(std::string(GetParam()) + "-into");
  ASSERT_TRUE(ConvertHfToGlmq(dir, out, {}).ok());
  for (const bool direct : {true, false}) {
    auto g = OpenGlmqSource(out, direct);
    auto h = OpenHfCheckpoint(dir, direct);
    ASSERT_TRUE(g.ok() && h.ok());
    const std::vector<const TensorSource*> sources = {g->get(), h->get()};
    for (const TensorSource* src : sources) {
      AlignedBuffer buf;
      for (const pb::TensorEntry& e : src->metadata().tensors()) {
        const int64_t rows = TensorRows(e);
        const uint64_t row_bytes = *RowBytes(e);
        for (int64_t r0 = 0; r0 < rows; r0 += 37) {
          const int64_t r1 = std::min(rows, r0 + 37);
          std::string want(row_bytes * (r1 - r0), '\0');
          ASSERT_TRUE(src->ReadRowsRaw(e, r0, r1, reinterpret_cast<uint8_t*>(want.data())).ok());
          auto got = src->ReadRowsInto(e, r0, r1, &buf);
          ASSERT_TRUE(got.ok()) << got.status();
          ASSERT_EQ(std::string(reinterpret_cast<const char*>(got->data()), got->size()), want)
              << e.name() << " rows " << r0 << " direct " << direct;
        }
      }
      EXPECT_FALSE(src->ReadRowsInto(src->metadata().tensors(0), 0, 1 << 20, &buf).ok());
    }
  }
  fs::remove(out);
}

INSTANTIATE_TEST_SUITE_P(All, Fixtures,
                         ::testing::Values("glm4-tiny-chat", "glm4-tiny-chat-hf", "glm4-tiny-0414"));

TEST(Convert, ChatAndChatHfGiveIdenticalCanonicalTensors) {
  const std::string a = TempPath("a"), b = TempPath("b");
  ASSERT_TRUE(ConvertHfToGlmq(kModels + "glm4-tiny-chat", a, {}).ok());
  ASSERT_TRUE(ConvertHfToGlmq(kModels + "glm4-tiny-chat-hf", b, {}).ok());
  auto fa = GlmqFile::Open(a);
  auto fb = GlmqFile::Open(b);
  ASSERT_TRUE(fa.ok() && fb.ok());
  ASSERT_EQ((*fa)->metadata().tensors_size(), (*fb)->metadata().tensors_size());
  for (const pb::TensorEntry& e : (*fa)->metadata().tensors()) {
    const pb::TensorEntry* o = (*fb)->FindTensor(e.name());
    ASSERT_NE(o, nullptr) << e.name();
    EXPECT_EQ(e.xxh64(), o->xxh64()) << e.name();
    auto da = (*fa)->TensorData(e), db = (*fb)->TensorData(*o);
    ASSERT_EQ(da.size(), db.size());
    EXPECT_EQ(0, std::memcmp(da.data(), db.data(), da.size())) << e.name();
  }
  EXPECT_DOUBLE_EQ((*fa)->hparams().rope_base(), (*fb)->hparams().rope_base());
  fs::remove(a);
  fs::remove(b);
}

TEST(Convert, DtypeF32IsExactWidening) {
  const std::string out = TempPath("f32");
  ConvertOptions opt;
  opt.dtype = pb::ENCODING_F32;
  ASSERT_TRUE(ConvertHfToGlmq(kModels + "glm4-tiny-0414", out, opt).ok());
  auto f = OpenGlmqSource(out);
  auto h = OpenHfCheckpoint(kModels + "glm4-tiny-0414");
  ASSERT_TRUE(f.ok() && h.ok());
  for (const pb::TensorEntry& e : (*h)->metadata().tensors()) {
    const pb::TensorEntry* o = (*f)->FindTensor(e.name());
    ASSERT_NE(o, nullptr);
    EXPECT_EQ(o->encoding(), pb::ENCODING_F32);
    const int64_t rows = TensorRows(e), cols = TensorCols(e);
    std::vector<float> a(rows * cols), b(rows * cols);
    ASSERT_TRUE((*h)->ReadRowsF32(e, 0, rows, a.data()).ok());
    ASSERT_TRUE((*f)->ReadRowsF32(*o, 0, rows, b.data()).ok());
    EXPECT_EQ(a, b) << e.name();
  }
  fs::remove(out);
}

}  // namespace
}  // namespace glmq
