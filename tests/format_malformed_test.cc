// Malformed .glmq files: each is made from a valid file by a targeted edit
// (with checksums recomputed where the test aims past them), and the reader
// must refuse it with an error naming the file and the field or tensor.
#include <cstring>
#include <string>

#include "format/header.h"
#include "format/reader.h"
#include "format/test_util.h"
#include "gmock/gmock.h"
#include "google/protobuf/unknown_field_set.h"
#include "gtest/gtest.h"

namespace glmq {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

class Malformed : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = testing::TempPath(
        absl::StrCat(::testing::UnitTest::GetInstance()->current_test_info()->name(), ".glmq"));
    ASSERT_TRUE(testing::WriteSmallModel(path_).ok());
  }
  void TearDown() override { std::remove(path_.c_str()); }

  // Opens the file and returns the error message ("" if it opened).
  std::string OpenError() {
    auto f = GlmqFile::Open(path_);
    if (f.ok()) return "";
    return std::string(f.status().message());
  }
  void Patch(uint64_t offset, const std::string& bytes) {
    std::string all = *ReadFileToString(path_);
    all.replace(offset, bytes.size(), bytes);
    ASSERT_TRUE(WriteFileAtomically(path_, all).ok());
  }
  void EditTensor(const std::string& name, const std::function<void(pb::TensorEntry&)>& edit) {
    ASSERT_TRUE(testing::EditMetadata(path_, [&](pb::ModelMetadata& m) {
                  for (pb::TensorEntry& e : *m.mutable_tensors())
                    if (e.name() == name) edit(e);
                }).ok());
  }
  std::string path_;
};

TEST_F(Malformed, ValidFileOpens) { EXPECT_EQ(OpenError(), ""); }

TEST_F(Malformed, BadMagic) {
  Patch(1, "X");
  EXPECT_THAT(OpenError(), AllOf(HasSubstr(path_), HasSubstr("bad magic")));
}

TEST_F(Malformed, NotEvenAHeader) {
  ASSERT_TRUE(WriteFileAtomically(path_, "GLMQ").ok());
  EXPECT_THAT(OpenError(), AllOf(HasSubstr(path_), HasSubstr("shorter than the 128-byte header")));
}

TEST_F(Malformed, TruncatedFile) {
  std::string all = *ReadFileToString(path_);
  ASSERT_TRUE(WriteFileAtomically(path_, all.substr(0, all.size() - 10)).ok());
  EXPECT_THAT(OpenError(), AllOf(HasSubstr(path_), HasSubstr("truncated")));
}

TEST_F(Malformed, HeaderChecksum) {
  Patch(40, "\x01");  // metadata_offset, header checksum not updated
  EXPECT_THAT(OpenError(), AllOf(HasSubstr(path_), HasSubstr("header checksum mismatch")));
}

TEST_F(Malformed, UnknownMajorVersion) {
  ASSERT_TRUE(testing::EditHeader(path_, [](GlmqHeader& h) { h.major = 2; }).ok());
  EXPECT_EQ(OpenError(), absl::StrCat("file ", path_,
                                      " has format major version 2; this glmq reads version 1"));
}

TEST_F(Malformed, MetadataOffsetPastEnd) {
  ASSERT_TRUE(testing::EditHeader(path_, [](GlmqHeader& h) { h.metadata_offset += 1 << 20; }).ok());
  EXPECT_THAT(OpenError(), AllOf(HasSubstr(path_), HasSubstr("'metadata_offset'")));
}

TEST_F(Malformed, MetadataSizePastEnd) {
  ASSERT_TRUE(testing::EditHeader(path_, [](GlmqHeader& h) { h.metadata_size += 1; }).ok());
  EXPECT_THAT(OpenError(), AllOf(HasSubstr(path_), HasSubstr("'metadata_size'")));
}

TEST_F(Malformed, MetadataOverSizeLimitRejectedBeforeParsing) {
  ASSERT_TRUE(
      testing::EditHeader(path_, [](GlmqHeader& h) { h.metadata_size = uint64_t{3} << 30; }).ok());
  EXPECT_THAT(OpenError(), AllOf(HasSubstr("'metadata_size'"), HasSubstr("over the limit")));
}

TEST_F(Malformed, DataSectionPastEnd) {
  ASSERT_TRUE(testing::EditHeader(path_, [](GlmqHeader& h) { h.data_size = 1ull << 40; }).ok());
  EXPECT_THAT(OpenError(), HasSubstr("'data_size'"));
}

TEST_F(Malformed, BadAlignmentField) {
  ASSERT_TRUE(testing::EditHeader(path_, [](GlmqHeader& h) { h.tensor_alignment = 1000; }).ok());
  EXPECT_THAT(OpenError(), HasSubstr("'tensor_alignment'"));
}

TEST_F(Malformed, CorruptMetadataChecksum) {
  auto raw = testing::ReadRaw(path_);
  ASSERT_TRUE(raw.ok());
  std::string flipped(1, static_cast<char>(raw->bytes[raw->header.metadata_offset + 5] ^ 0x40));
  Patch(raw->header.metadata_offset + 5, flipped);
  EXPECT_THAT(OpenError(), AllOf(HasSubstr(path_), HasSubstr("metadata checksum mismatch")));
}

TEST_F(Malformed, MetadataNotAProtobuf) {
  auto raw = testing::ReadRaw(path_);
  ASSERT_TRUE(raw.ok());
  ASSERT_TRUE(testing::WriteRaw(path_, *raw, std::string("\xff\xff\xff\xff\xff", 5)).ok());
  EXPECT_THAT(OpenError(), HasSubstr("not a valid ModelMetadata"));
}

TEST_F(Malformed, TensorOffsetOutOfRange) {
  EditTensor("output_norm.weight", [](pb::TensorEntry& e) { e.set_offset(e.offset() + 4096 * 16); });
  EXPECT_THAT(OpenError(), AllOf(HasSubstr(path_), HasSubstr("'output_norm.weight'"),
                                 HasSubstr("outside the data section")));
}

TEST_F(Malformed, TensorOffsetInsideHeader) {
  EditTensor("token_embd.weight", [](pb::TensorEntry& e) { e.set_offset(0); });
  EXPECT_THAT(OpenError(), AllOf(HasSubstr("'token_embd.weight'"), HasSubstr("outside")));
}

TEST_F(Malformed, HugeOffsetDoesNotOverflow) {
  EditTensor("token_embd.weight", [](pb::TensorEntry& e) { e.set_offset(~uint64_t{0} - 10); });
  EXPECT_THAT(OpenError(), AllOf(HasSubstr("'token_embd.weight'"), HasSubstr("outside")));
}

TEST_F(Malformed, OverlappingTensors) {
  uint64_t embd_offset = 0;
  auto raw = testing::ReadRaw(path_);
  for (const auto& e : raw->metadata.tensors())
    if (e.name() == "token_embd.weight") embd_offset = e.offset();
  EditTensor("output_norm.weight", [&](pb::TensorEntry& e) { e.set_offset(embd_offset); });
  EXPECT_THAT(OpenError(), AllOf(HasSubstr("'token_embd.weight'"),
                                 HasSubstr("'output_norm.weight'"), HasSubstr("overlap")));
}

TEST_F(Malformed, MisalignedTensor) {
  EditTensor("blk.0.attn_qkv.weight", [](pb::TensorEntry& e) { e.set_offset(e.offset() + 16); });
  EXPECT_THAT(OpenError(), AllOf(HasSubstr("'blk.0.attn_qkv.weight'"),
                                 HasSubstr("not a multiple of the alignment 4096")));
}

TEST_F(Malformed, SizeDoesNotMatchShape) {
  EditTensor("token_embd.weight", [](pb::TensorEntry& e) { e.set_shape(0, 17); });
  EXPECT_THAT(OpenError(), AllOf(HasSubstr("'token_embd.weight'"), HasSubstr("size is 256"),
                                 HasSubstr("need 272")));
}

TEST_F(Malformed, SizeDoesNotMatchEncoding) {
  EditTensor("blk.0.attn_qkv.weight", [](pb::TensorEntry& e) { e.set_encoding(pb::ENCODING_Q8_SYM); });
  EXPECT_THAT(OpenError(), AllOf(HasSubstr("'blk.0.attn_qkv.weight'"), HasSubstr("size is")));
}

TEST_F(Malformed, UnknownEncoding) {
  EditTensor("output_norm.weight", [](pb::TensorEntry& e) { e.set_encoding(static_cast<pb::Encoding>(77)); });
  EXPECT_THAT(OpenError(), AllOf(HasSubstr("'output_norm.weight'"), HasSubstr("unknown encoding 77")));
}

TEST_F(Malformed, BadShape) {
  EditTensor("output_norm.weight", [](pb::TensorEntry& e) { e.set_shape(0, -8); });
  EXPECT_THAT(OpenError(), HasSubstr("'output_norm.weight'"));
  EditTensor("output_norm.weight", [](pb::TensorEntry& e) { e.clear_shape(); });
  EXPECT_THAT(OpenError(), AllOf(HasSubstr("'output_norm.weight'"), HasSubstr("0 dimensions")));
}

TEST_F(Malformed, OverflowingShape) {
  EditTensor("output_norm.weight", [](pb::TensorEntry& e) {
    e.clear_shape();
    for (int i = 0; i < 4; ++i) e.add_shape(int64_t{1} << 30);
  });
  EXPECT_THAT(OpenError(), AllOf(HasSubstr("'output_norm.weight'"), HasSubstr("too large")));
}

TEST_F(Malformed, DuplicateName) {
  EditTensor("output_norm.weight", [](pb::TensorEntry& e) { e.set_name("token_embd.weight"); });
  EXPECT_THAT(OpenError(), HasSubstr("'token_embd.weight' appears twice"));
}

TEST_F(Malformed, MetadataAlignmentDisagreesWithHeader) {
  ASSERT_TRUE(testing::EditMetadata(path_, [](pb::ModelMetadata& m) { m.set_tensor_alignment(64); }).ok());
  EXPECT_THAT(OpenError(), HasSubstr("'tensor_alignment'"));
}

TEST_F(Malformed, CorruptTensorChecksumNamesTensor) {
  const pb::TensorEntry* e = nullptr;
  {
    auto f = GlmqFile::Open(path_);
    ASSERT_TRUE(f.ok());
    e = (*f)->FindTensor("blk.0.attn_qkv.weight");
    ASSERT_NE(e, nullptr);
    const uint64_t at = e->offset() + 7;
    const char flipped = static_cast<char>((*f)->TensorData(*e)[7] ^ 1);
    f->reset();
    Patch(at, std::string(1, flipped));
  }
  auto f = GlmqFile::Open(path_);
  ASSERT_TRUE(f.ok()) << f.status();  // structure is fine; data is not
  const absl::Status s = (*f)->VerifyChecksums();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()),
              AllOf(HasSubstr(path_), HasSubstr("'blk.0.attn_qkv.weight'"),
                    HasSubstr("checksum mismatch")));
}

TEST_F(Malformed, NewerMinorWithUnknownFieldStillReads) {
  auto raw = testing::ReadRaw(path_);
  ASSERT_TRUE(raw.ok());
  std::string meta = raw->metadata.SerializeAsString();
  // Field 1000, varint 42 (tag = 1000 << 3 | 0 = 8000 = 0xc0 0x3e), and
  // field 1001, length-delimited "future".
  meta += std::string("\xc0\x3e\x2a", 3);
  meta += std::string("\xca\x3e\x06", 3) + "future";
  ASSERT_TRUE(testing::WriteRaw(path_, *raw, meta, [](GlmqHeader& h) { h.minor = 7; }).ok());
  auto f = GlmqFile::Open(path_);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ((*f)->minor_version(), 7u);
  EXPECT_EQ((*f)->metadata().tensors_size(), 3);
  const auto& unknown = (*f)->metadata().GetReflection()->GetUnknownFields((*f)->metadata());
  EXPECT_EQ(unknown.field_count(), 2);
  EXPECT_TRUE((*f)->VerifyChecksums().ok());
}

TEST_F(Malformed, FlagsMustBeZeroInMinorZero) {
  ASSERT_TRUE(testing::EditHeader(path_, [](GlmqHeader& h) { h.flags = 1; }).ok());
  EXPECT_THAT(OpenError(), HasSubstr("'flags'"));
  // A newer minor version may define flags; an older reader ignores them.
  ASSERT_TRUE(testing::WriteSmallModel(path_).ok());
  ASSERT_TRUE(testing::EditHeader(path_, [](GlmqHeader& h) {
                h.minor = 1;
                h.flags = 1;
              }).ok());
  EXPECT_EQ(OpenError(), "");
}

}  // namespace
}  // namespace glmq
