// Round trips through GlmqWriter and GlmqFile.
#include <dirent.h>

#include <cstring>
#include <filesystem>
#include <limits>

#include "core/checksum.h"
#include "core/file.h"
#include "core/output.h"
#include "format/embedded.h"
#include "format/header.h"
#include "format/reader.h"
#include "format/test_util.h"
#include "format/writer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace glmq {
namespace {

using ::glmq::testing::Entry;
using ::glmq::testing::TempPath;
using ::glmq::testing::TestBytes;
using ::testing::HasSubstr;

TEST(FormatRoundTrip, MetadataTensorsAndAlignment) {
  const std::string path = TempPath("roundtrip.glmq");
  ASSERT_TRUE(testing::WriteSmallModel(path).ok());
  auto f = GlmqFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status();
  const GlmqFile& file = **f;
  EXPECT_EQ(file.major_version(), 1u);
  EXPECT_EQ(file.minor_version(), 0u);
  EXPECT_EQ(file.hparams().n_layers(), 1);
  EXPECT_EQ(file.metadata().tensor_alignment(), kGlmqTensorAlignment);
  ASSERT_EQ(file.metadata().tensors_size(), 3);
  uint32_t seed = 1;
  for (const pb::TensorEntry& e : file.metadata().tensors()) {
    EXPECT_EQ(e.offset() % 4096, 0u) << e.name();
    EXPECT_EQ(e.size(), *EncodedBytes(e)) << e.name();
    const std::vector<uint8_t> want = TestBytes(e.size(), seed++);
    absl::Span<const uint8_t> got = file.TensorData(e);
    ASSERT_EQ(got.size(), want.size());
    EXPECT_EQ(std::memcmp(got.data(), want.data(), want.size()), 0) << e.name();
    EXPECT_EQ(reinterpret_cast<uintptr_t>(got.data()) % 4096, 0u);
  }
  const pb::TensorEntry* q = file.FindTensor("blk.0.attn_qkv.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->group_size(), 32);
  EXPECT_EQ(q->role(), pb::ROLE_ATTN_QKV);
  EXPECT_EQ(file.FindTensor("nope"), nullptr);
  uint64_t last_done = 0, calls = 0;
  EXPECT_TRUE(file.VerifyChecksums([&](uint64_t done, uint64_t total, absl::string_view) {
                    last_done = done;
                    ++calls;
                    EXPECT_LE(done, total);
                  }).ok());
  EXPECT_EQ(calls, 4u);
  EXPECT_EQ(last_done, 16 * 8 * 2 + 8 * 2 * (2 + 16) + 8 * 4u);
  std::remove(path.c_str());
}

TEST(FormatRoundTrip, ChunkedTensorMatchesWholeTensor) {
  const std::string a = TempPath("whole.glmq"), b = TempPath("chunked.glmq");
  const pb::TensorEntry e = Entry("w", pb::ENCODING_Q8_SYM, {4, 256}, 64);
  const uint64_t n = *EncodedBytes(e);
  const std::vector<uint8_t> data = TestBytes(n, 7);
  {
    auto w = *GlmqWriter::Create(a);
    ASSERT_TRUE(w->AddTensor(e, data).ok());
    ASSERT_TRUE(w->Finish().ok());
  }
  {
    auto w = *GlmqWriter::Create(b);
    ASSERT_TRUE(w->BeginTensor(e).ok());
    for (uint64_t off = 0; off < n; off += 100) {
      const uint64_t len = std::min<uint64_t>(100, n - off);
      ASSERT_TRUE(w->AppendTensorData({data.data() + off, len}).ok());
    }
    ASSERT_TRUE(w->EndTensor().ok());
    ASSERT_TRUE(w->Finish().ok());
  }
  auto fa = GlmqFile::Open(a);
  auto fb = GlmqFile::Open(b);
  ASSERT_TRUE(fa.ok() && fb.ok());
  EXPECT_EQ((*fa)->metadata().tensors(0).xxh64(), (*fb)->metadata().tensors(0).xxh64());
  EXPECT_EQ((*fa)->metadata().tensors(0).xxh64(), XxHash64(data.data(), data.size()));
  EXPECT_TRUE((*fb)->VerifyChecksums().ok());
  std::remove(a.c_str());
  std::remove(b.c_str());
}

// Files named like the output's temp files ("<path>.tmp.<pid>[.<suffix>]").
int TempFilesOf(const std::string& path) {
  const std::filesystem::path p(path);
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(p.parent_path())) {
    if (e.path().filename().string().rfind(p.filename().string() + ".tmp.", 0) == 0) ++n;
  }
  return n;
}

TEST(FormatWriter, DyingWithoutFinishLeavesNoFile) {
  const std::string path = TempPath("abandoned.glmq");
  {
    auto w = *GlmqWriter::Create(path);
    ASSERT_TRUE(w->AddTensor(Entry("x", pb::ENCODING_F32, {4}), TestBytes(16, 1)).ok());
    ASSERT_TRUE(w->BeginTensor(Entry("y", pb::ENCODING_F32, {4})).ok());
    // The data lives in an anonymous O_TMPFILE (core/output.h) where the
    // file system has them; a named temp file otherwise.
    EXPECT_LE(TempFilesOf(path), 1);
  }
  EXPECT_FALSE(FileExists(path));
  EXPECT_EQ(TempFilesOf(path), 0);
}

TEST(FormatWriter, NonFiniteValuesNeverEnterAFile) {
  const std::string path = TempPath("nonfinite.glmq");
  auto w = *GlmqWriter::Create(path);
  std::vector<uint8_t> f32(16, 0);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(f32.data() + 8, &nan, 4);
  absl::Status s = w->AddTensor(Entry("norm", pb::ENCODING_F32, {4}), f32);
  EXPECT_THAT(std::string(s.message()), HasSubstr("'norm': non-finite value (NaN/Inf) at row 0, column 2"));
  auto w2 = *GlmqWriter::Create(path);
  // bf16 +Inf split across two appends.
  ASSERT_TRUE(w2->BeginTensor(Entry("m", pb::ENCODING_BF16, {2, 3})).ok());
  const uint8_t part1[7] = {0, 0, 0, 0, 0, 0, 0x80};
  const uint8_t part2[5] = {0x7f, 0, 0, 0, 0};
  ASSERT_TRUE(w2->AppendTensorData(part1).ok());
  s = w2->AppendTensorData(part2);
  EXPECT_THAT(std::string(s.message()), HasSubstr("'m': non-finite value (NaN/Inf) at row 1, column 0"));
  EXPECT_FALSE(w2->Finish().ok());
  // A q8 group whose f16 scale is NaN (0x7e00), the header split over appends.
  auto w3 = *GlmqWriter::Create(path);
  ASSERT_TRUE(w3->BeginTensor(Entry("q", pb::ENCODING_Q8_SYM, {2, 32}, 32)).ok());
  std::vector<uint8_t> q(2 * 34, 0);
  q[34] = 0x00;
  q[35] = 0x7e;
  ASSERT_TRUE(w3->AppendTensorData(absl::MakeConstSpan(q).subspan(0, 35)).ok());
  s = w3->AppendTensorData(absl::MakeConstSpan(q).subspan(35));
  EXPECT_THAT(std::string(s.message()), HasSubstr("'q': non-finite (NaN/Inf) scale or min in group 0 of row 1"));
  EXPECT_FALSE(FileExists(path));
}

// q8 codes are in [-127, 127]: -128 (0x80) overflows the kernels' |w|, so
// no writer path may store it; the check sees codes split over appends.
TEST(FormatWriter, Q8CodeMinus128NeverEntersAFile) {
  const std::string path = TempPath("q8_minus128.glmq");
  auto w = *GlmqWriter::Create(path);
  ASSERT_TRUE(w->BeginTensor(Entry("q", pb::ENCODING_Q8_SYM, {2, 64}, 32)).ok());
  std::vector<uint8_t> q(2 * 2 * 34, 0x7f);  // code 127 everywhere
  for (size_t g = 0; g < q.size(); g += 34) q[g] = 0, q[g + 1] = 0x20;  // scale 2^-7
  q[3 * 34 + 2 + 31] = 0x80;  // row 1, group 1, last code
  ASSERT_TRUE(w->AppendTensorData(absl::MakeConstSpan(q).subspan(0, 3 * 34 + 20)).ok());
  const absl::Status s = w->AppendTensorData(absl::MakeConstSpan(q).subspan(3 * 34 + 20));
  EXPECT_THAT(std::string(s.message()), HasSubstr("'q': q8 code -128 in group 1 of row 1"));
  EXPECT_FALSE(w->Finish().ok());
  EXPECT_FALSE(FileExists(path));
  auto ok = *GlmqWriter::Create(path);  // 0x80 in a scale byte is fine
  std::vector<uint8_t> good(2 * 34, 0x81);
  good[0] = 0x80, good[1] = 0x20, good[34] = 0x80, good[35] = 0x20;
  EXPECT_TRUE(ok->AddTensor(Entry("q", pb::ENCODING_Q8_SYM, {2, 32}, 32), good).ok());
}

// A file from another writer, with a q8 code -128 and a checksum that
// matches it: opening works, verifying (glmq verify, verify-on-load) names
// the tensor, row and group, since the kernels cannot compute that code.
TEST(FormatReader, VerifyRejectsQ8Minus128ItsChecksumCovers) {
  const std::string good = TempPath("q8_127.glmq"), bad = TempPath("q8_foreign.glmq");
  {
    auto w = *GlmqWriter::Create(good);
    std::vector<uint8_t> q(2 * 2 * 34, 0x7f);
    for (size_t g = 0; g < q.size(); g += 34) q[g] = 0, q[g + 1] = 0x20;
    ASSERT_TRUE(w->AddTensor(Entry("q", pb::ENCODING_Q8_SYM, {2, 64}, 32), q).ok());
    ASSERT_TRUE(w->Finish().ok());
  }
  absl::StatusOr<std::string> read = ReadFileToString(good);
  ASSERT_TRUE(read.ok()) << read.status();
  std::string bytes = *std::move(read);
  auto h = DecodeGlmqHeader(absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(bytes.data()),
                                                kGlmqHeaderSize),
                            good);
  ASSERT_TRUE(h.ok()) << h.status();
  pb::ModelMetadata m;
  ASSERT_TRUE(m.ParseFromArray(bytes.data() + h->metadata_offset, h->metadata_size));
  pb::TensorEntry* e = m.mutable_tensors(0);
  bytes[e->offset() + 3 * 34 + 2 + 31] = static_cast<char>(0x80);  // row 1, group 1
  e->set_xxh64(XxHash64(bytes.data() + e->offset(), e->size()));
  const std::string meta = m.SerializeAsString();
  bytes.resize(h->metadata_offset);
  bytes += meta;
  h->metadata_size = meta.size();
  h->metadata_xxh64 = XxHash64(meta.data(), meta.size());
  h->file_size = bytes.size();
  EncodeGlmqHeader(*h, reinterpret_cast<uint8_t*>(bytes.data()));
  ASSERT_TRUE(WriteFileAtomically(bad, bytes).ok());
  auto f = GlmqFile::Open(bad);
  ASSERT_TRUE(f.ok()) << f.status();
  for (const absl::Status& s : {(*f)->VerifyChecksums(), (*f)->VerifyTensorChecksums({"q"}, 2)}) {
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(std::string(s.message()), HasSubstr("'q': q8 code -128 in group 1 of row 1"));
    EXPECT_THAT(std::string(s.message()), HasSubstr(bad));
  }
  auto g = GlmqFile::Open(good);
  ASSERT_TRUE(g.ok());
  EXPECT_TRUE((*g)->VerifyChecksums().ok());
  std::remove(good.c_str());
  std::remove(bad.c_str());
}

TEST(FormatWriter, RejectsBadTensorsByName) {
  const std::string path = TempPath("bad_writes.glmq");
  auto w = *GlmqWriter::Create(path);
  // Wrong size for the shape.
  absl::Status s = w->AddTensor(Entry("short", pb::ENCODING_F32, {4}), TestBytes(15, 1));
  EXPECT_THAT(std::string(s.message()), HasSubstr("'short'"));
  // Unknown encoding, bad group size, duplicate name.
  s = w->AddTensor(Entry("enc", pb::ENCODING_UNSPECIFIED, {4}), TestBytes(16, 1));
  EXPECT_THAT(std::string(s.message()), HasSubstr("'enc'"));
  s = w->AddTensor(Entry("grp", pb::ENCODING_Q4_SYM, {2, 64}, 48), TestBytes(64, 1));
  EXPECT_THAT(std::string(s.message()), HasSubstr("'grp'"));
  ASSERT_TRUE(w->AddTensor(Entry("ok", pb::ENCODING_F32, {4}), TestBytes(16, 1)).ok());
  s = w->AddTensor(Entry("ok", pb::ENCODING_F32, {4}), TestBytes(16, 1));
  EXPECT_THAT(std::string(s.message()), HasSubstr("'ok' written twice"));
  // Chunked: too few bytes at EndTensor.
  ASSERT_TRUE(w->BeginTensor(Entry("chunk", pb::ENCODING_F16, {8})).ok());
  ASSERT_TRUE(w->AppendTensorData(TestBytes(10, 2)).ok());
  s = w->EndTensor();
  EXPECT_THAT(std::string(s.message()), HasSubstr("'chunk' got 10 bytes"));
  // After a failed chunked tensor the writer refuses to finish a broken file.
  EXPECT_FALSE(w->Finish().ok());
}

TEST(FormatWriter, StateErrors) {
  const std::string path = TempPath("state.glmq");
  auto w = *GlmqWriter::Create(path);
  EXPECT_FALSE(w->AppendTensorData(TestBytes(4, 1)).ok());
  EXPECT_FALSE(w->EndTensor().ok());
  ASSERT_TRUE(w->BeginTensor(Entry("a", pb::ENCODING_F32, {1})).ok());
  EXPECT_FALSE(w->BeginTensor(Entry("b", pb::ENCODING_F32, {1})).ok());
  EXPECT_FALSE(w->Finish().ok());
  ASSERT_TRUE(w->AppendTensorData(TestBytes(4, 1)).ok());
  ASSERT_TRUE(w->EndTensor().ok());
  ASSERT_TRUE(w->Finish().ok());
  EXPECT_FALSE(w->AddTensor(Entry("c", pb::ENCODING_F32, {1}), TestBytes(4, 1)).ok());
  EXPECT_TRUE(GlmqFile::Open(path).ok());
  std::remove(path.c_str());
}

TEST(FormatRoundTrip, EmptyModel) {
  const std::string path = TempPath("empty.glmq");
  auto w = *GlmqWriter::Create(path);
  ASSERT_TRUE(w->Finish().ok());
  auto f = GlmqFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ((*f)->metadata().tensors_size(), 0);
  EXPECT_TRUE((*f)->VerifyChecksums().ok());
  std::remove(path.c_str());
}

TEST(FormatEmbedded, RoundTripAndCorruption) {
  const std::string path = TempPath("embedded.glmq");
  std::string text;
  for (int i = 0; i < 2000; ++i) absl::StrAppend(&text, "token", i, " ", i * 7, "\n");
  {
    auto w = *GlmqWriter::Create(path);
    *w->metadata().mutable_tokenizer()->add_files() = MakeEmbeddedFile("tokenizer.model", text);
    ASSERT_TRUE(w->Finish().ok());
  }
  auto f = GlmqFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_LT((*f)->metadata().tokenizer().files(0).zstd_data().size(), text.size() / 3);
  auto got = (*f)->EmbeddedFile("tokenizer.model");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, text);
  EXPECT_EQ((*f)->EmbeddedFile("tokenizer.json").status().code(), absl::StatusCode::kNotFound);
  pb::EmbeddedFile bad = MakeEmbeddedFile("t", text);
  bad.set_xxh64(bad.xxh64() ^ 1);
  EXPECT_THAT(std::string(DecompressEmbeddedFile(bad, "x").status().message()),
              HasSubstr("embedded file 't': checksum mismatch"));
  bad = MakeEmbeddedFile("t", text);
  bad.set_size(bad.size() + 1);
  EXPECT_FALSE(DecompressEmbeddedFile(bad, "x").ok());
  bad = MakeEmbeddedFile("t", text);
  bad.mutable_zstd_data()->resize(bad.zstd_data().size() / 2);
  EXPECT_FALSE(DecompressEmbeddedFile(bad, "x").ok());
  std::remove(path.c_str());
}

}  // namespace
}  // namespace glmq
