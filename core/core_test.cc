#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>

#include "core/checksum.h"
#include "core/dtype.h"
#include "core/file.h"
#include "core/json.h"
#include "core/progress.h"
#include "core/status.h"
#include "gtest/gtest.h"

namespace glmq {
namespace {

TEST(DType, Bf16RoundTripAndRounding) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = Bf16ToF32(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    EXPECT_EQ(F32ToBf16(f), h);
  }
  // 1 + 2^-8 is exactly halfway between two bf16 values: ties to even (1.0).
  EXPECT_EQ(F32ToBf16(1.00390625f), 0x3f80);
  EXPECT_EQ(F32ToBf16(1.01171875f), 0x3f82);  // 1 + 3*2^-8 -> ties up to even
  EXPECT_TRUE(std::isnan(Bf16ToF32(F32ToBf16(std::numeric_limits<float>::quiet_NaN()))));
}

TEST(DType, F16RoundTripAllValues) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = F16ToF32(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    EXPECT_EQ(F32ToF16(f), h) << h;
  }
  EXPECT_EQ(F32ToF16(65520.0f), 0x7c00);  // rounds to inf
  EXPECT_EQ(F32ToF16(65504.0f), 0x7bff);
  EXPECT_EQ(F16ToF32(0x0001), std::ldexp(1.0f, -24));
}

TEST(Checksum, Xxh64KnownValues) {
  // Reference values of XXH64 with seed 0.
  EXPECT_EQ(XxHash64("", 0), 0xEF46DB3751D8E999ULL);
  EXPECT_EQ(XxHash64("a", 1), 0xD24EC4F1A98C6E5BULL);
  EXPECT_EQ(XxHash64("abc", 3), 0x44BC2CF5AD770999ULL);
  std::string s(1000, 'x');
  for (size_t i = 0; i < s.size(); ++i) s[i] = static_cast<char>(i * 7);
  Xxh64 streaming;
  for (size_t i = 0; i < s.size(); i += 13) streaming.Update(s.data() + i, std::min<size_t>(13, s.size() - i));
  EXPECT_EQ(streaming.Digest(), XxHash64(s.data(), s.size()));
}

TEST(File, AtomicOutputLeavesNothingOnFailure) {
  const std::string dir = ::testing::TempDir();
  const std::string path = dir + "/atomic_test.bin";
  std::filesystem::remove(path);
  {
    auto out = AtomicOutputFile::Create(path);
    ASSERT_TRUE(out.ok());
    ASSERT_TRUE((*out)->Write("hello").ok());
    // dies without Commit
  }
  EXPECT_FALSE(FileExists(path));
  EXPECT_TRUE(std::filesystem::is_empty(dir) || !FileExists(path + ".tmp"));
  ASSERT_TRUE(WriteFileAtomically(path, "world").ok());
  auto m = MappedFile::Open(path);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(std::string(reinterpret_cast<const char*>((*m)->data()), (*m)->size()), "world");
}

TEST(File, WriteBehindKeepsEveryByte) {
  // Streaming mode (sync_file_range + DONTNEED behind the writes) must not
  // change the file: odd-sized appends across many windows, a PadTo, and a
  // PWrite into a window already dropped from the page cache.
  const std::string path = ::testing::TempDir() + "/write_behind_test.bin";
  std::string want;
  {
    auto out = AtomicOutputFile::Create(path);
    ASSERT_TRUE(out.ok());
    (*out)->SetWriteBehind(4096, 1);
    uint32_t x = 1;
    for (int i = 0; i < 300; ++i) {
      std::string piece(1 + (i * 37) % 1500, '\0');
      for (char& c : piece) c = static_cast<char>(x = x * 1664525u + 1013904223u);
      ASSERT_TRUE((*out)->Write(piece).ok());
      want += piece;
    }
    ASSERT_TRUE((*out)->PadTo(4096).ok());
    want.resize((*out)->position(), '\0');
    ASSERT_TRUE((*out)->PWrite("HEAD", 4, 10).ok());
    want.replace(10, 4, "HEAD");
    ASSERT_TRUE((*out)->Commit().ok());
  }
  auto got = ReadFileToString(path);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, want);
  std::filesystem::remove(path);
}

TEST(File, MissingFileIsNotFound) {
  auto m = MappedFile::Open("/nonexistent/glmq");
  EXPECT_EQ(m.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(m.status().message().find("/nonexistent/glmq"), std::string::npos);
}

TEST(Json, TypedFieldsNameTheField) {
  auto j = ParseJson(R"({"a": 3, "b": "x", "c": [1, 2], "d": 2.0})", "cfg.json");
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(*GetInt(*j, "a", "cfg.json"), 3);
  EXPECT_EQ(*GetInt(*j, "d", "cfg.json"), 2);
  auto bad = GetInt(*j, "b", "cfg.json");
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("'b'"), std::string::npos);
  EXPECT_EQ(GetIntOrIntList(*j, "c", "x")->size(), 2u);
  EXPECT_EQ(*GetOptionalInt(*j, "zz", 7, "x"), 7);
  EXPECT_FALSE(ParseJson("{\"a\": ", "broken.json").ok());
}

// Not a terminal (a log): plain lines, no escape codes, each with the ETA,
// then a summary line; nothing at all when off.
TEST(Progress, LogModeWritesPlainLinesWithEta) {
  Progress::SetModeForTest(Progress::Mode::kLog, std::chrono::milliseconds(0));
  ::testing::internal::CaptureStderr();
  {
    Progress p("calibrate", 4, "windows");
    for (int i = 0; i < 4; ++i) p.Add("layers 0-1", 1);
    p.Finish();
  }
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(log.find('\r'), std::string::npos) << log;
  EXPECT_EQ(log.find('\033'), std::string::npos) << log;
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 5) << log;  // 4 updates + summary
  EXPECT_NE(log.find("calibrate 1/4 windows"), std::string::npos) << log;
  EXPECT_NE(log.find("ETA 0:00  layers 0-1\n"), std::string::npos) << log;
  EXPECT_NE(log.find("calibrate 4/4 windows"), std::string::npos) << log;
  EXPECT_NE(log.find("in 0:00\n"), std::string::npos) << log;

  Progress::SetModeForTest(Progress::Mode::kOff, std::chrono::milliseconds(0));
  ::testing::internal::CaptureStderr();
  {
    Progress p("quiet", 2, "windows");
    p.Add("x", 2);
    p.Finish();
  }
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

}  // namespace
}  // namespace glmq
