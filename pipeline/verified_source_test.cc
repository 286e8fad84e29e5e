#include "pipeline/verified_source.h"

#include <fstream>

#include "core/direct_read.h"
#include "format/reader.h"
#include "format/test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace glmq {
namespace {

using ::testing::HasSubstr;

// Reads every tensor of `src` in chunks of `chunk` rows, as quantize does.
absl::Status ReadAll(const TensorSource& src, int64_t chunk) {
  AlignedBuffer buf;
  for (const pb::TensorEntry& e : src.metadata().tensors()) {
    for (int64_t r = 0; r < TensorRows(e); r += chunk) {
      const int64_t end = std::min(TensorRows(e), r + chunk);
      if (r % 2 == 0) {
        auto got = src.ReadRowsInto(e, r, end, &buf);
        if (!got.ok()) return got.status();
      } else {
        std::vector<uint8_t> out(*RowBytes(e) * (end - r));
        if (absl::Status s = src.ReadRowsRaw(e, r, end, out.data()); !s.ok()) return s;
      }
    }
  }
  return absl::OkStatus();
}

TEST(VerifiedSource, StreamedRowsAreCheckedAgainstTheStoredChecksum) {
  const std::string path = testing::TempPath("verified_source.glmq");
  ASSERT_TRUE(testing::WriteSmallModel(path).ok());
  for (int64_t chunk : {1, 3, 100}) {
    auto src = OpenGlmqSource(path, /*direct_io=*/false);
    ASSERT_TRUE(src.ok()) << src.status();
    EXPECT_TRUE(ReadAll(*VerifyingSource(std::move(*src)), chunk).ok()) << chunk;
  }
  uint64_t offset = 0;
  {
    auto f = GlmqFile::Open(path);
    ASSERT_TRUE(f.ok());
    offset = (*f)->FindTensor("token_embd.weight")->offset() + 17;
  }
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(offset);
    f.put(0x11);
  }
  auto src = OpenGlmqSource(path, /*direct_io=*/false);
  ASSERT_TRUE(src.ok());
  absl::Status s = ReadAll(*VerifyingSource(std::move(*src)), 3);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()), HasSubstr("'token_embd.weight': checksum mismatch"));
  std::remove(path.c_str());
}

}  // namespace
}  // namespace glmq
