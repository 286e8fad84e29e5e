// PipelinedTensorWriter: chunks written on the writer thread come back
// bit-exact with the right checksums, and a writer-thread error reaches the
// producer (no hang, no output file).
#include "convert/write_pipeline.h"

#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "core/file.h"
#include "format/reader.h"
#include "format/test_util.h"
#include "gtest/gtest.h"

namespace glmq {
namespace {

std::string TempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          (name + "." + std::to_string(::getpid()) + ".glmq"))
      .string();
}

TEST(PipelinedTensorWriter, ChunksArriveInOrderAndBitExact) {
  const std::string path = TempPath("pipeline_ok");
  auto w = GlmqWriter::Create(path);
  ASSERT_TRUE(w.ok()) << w.status();
  const std::vector<uint8_t> a = testing::TestBytes(64 * 100 * 2, 1);
  const std::vector<uint8_t> b = testing::TestBytes(37 * 4, 2);
  {
    PipelinedTensorWriter pipe(w->get(), 2, 1000);  // 2 buffers: the producer waits
    ASSERT_TRUE(pipe.BeginTensor(testing::Entry("a", pb::ENCODING_BF16, {64, 100})).ok());
    for (size_t off = 0; off < a.size(); off += 1000) {
      const size_t n = std::min<size_t>(1000, a.size() - off);
      uint8_t* buf = pipe.AcquireBuffer(n);
      ASSERT_NE(buf, nullptr);
      std::memcpy(buf, a.data() + off, n);
      ASSERT_TRUE(pipe.Submit(n).ok());
    }
    ASSERT_TRUE(pipe.EndTensor().ok());
    ASSERT_TRUE(pipe.BeginTensor(testing::Entry("b", pb::ENCODING_F32, {37})).ok());
    uint8_t* buf = pipe.AcquireBuffer(b.size());
    ASSERT_NE(buf, nullptr);
    std::memcpy(buf, b.data(), b.size());
    ASSERT_TRUE(pipe.Submit(b.size()).ok());
    ASSERT_TRUE(pipe.EndTensor().ok());
    ASSERT_TRUE(pipe.Close().ok());
  }
  ASSERT_TRUE((*w)->Finish().ok());
  auto f = GlmqFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_TRUE((*f)->VerifyChecksums().ok());
  auto da = (*f)->TensorData(*(*f)->FindTensor("a"));
  auto db = (*f)->TensorData(*(*f)->FindTensor("b"));
  EXPECT_EQ(std::vector<uint8_t>(da.begin(), da.end()), a);
  EXPECT_EQ(std::vector<uint8_t>(db.begin(), db.end()), b);
  std::filesystem::remove(path);
}

TEST(PipelinedTensorWriter, WriterErrorReachesTheProducer) {
  const std::string path = TempPath("pipeline_err");
  auto w = GlmqWriter::Create(path);
  ASSERT_TRUE(w.ok()) << w.status();
  PipelinedTensorWriter pipe(w->get(), 2, 64);
  ASSERT_TRUE(pipe.BeginTensor(testing::Entry("t", pb::ENCODING_F32, {4, 4})).ok());  // 64 B
  absl::Status s;
  // 48-byte chunks: the second overflows the tensor, the writer thread fails.
  for (int i = 0; i < 100 && s.ok(); ++i) {
    uint8_t* buf = pipe.AcquireBuffer(48);
    if (buf == nullptr) break;
    std::memset(buf, 0, 48);
    s = pipe.Submit(48);
  }
  const absl::Status closed = pipe.Close();
  EXPECT_EQ(closed.code(), absl::StatusCode::kInvalidArgument) << closed;
  EXPECT_NE(closed.message().find("more data than"), std::string::npos) << closed;
  EXPECT_EQ(pipe.AcquireBuffer(8), nullptr);
  EXPECT_FALSE((*w)->Finish().ok());
  w->reset();
  EXPECT_FALSE(FileExists(path));
}

}  // namespace
}  // namespace glmq
