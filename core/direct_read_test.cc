// DirectReader: O_DIRECT reads and the pread fallback return the same bytes
// for any ranges (unaligned, sub-block, at the end of the file, several
// ranges from two files laid end to end), and out-of-range reads are errors
// naming the file.
#include "core/direct_read.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace glmq {
namespace {

// A file of n pseudo-random bytes under the test temp dir (per process and
// tag: ctest runs this binary's tests in parallel).
struct TempFile {
  std::string path;
  std::string bytes;
  TempFile(const std::string& tag, size_t n, uint32_t seed) {
    path = ::testing::TempDir() + "/direct_read_" + tag + "." + std::to_string(::getpid());
    std::mt19937 rng(seed);
    bytes.resize(n);
    for (auto& c : bytes) c = static_cast<char>(rng());
    FILE* f = std::fopen(path.c_str(), "wb");
    EXPECT_NE(f, nullptr);
    EXPECT_EQ(std::fwrite(bytes.data(), 1, n, f), n);
    std::fclose(f);
  }
  ~TempFile() { std::remove(path.c_str()); }
};

void ExpectRanges(const std::vector<FileRange>& ranges, const std::vector<const TempFile*>& src,
                  AlignedBuffer* buf) {
  std::string want;
  for (size_t i = 0; i < ranges.size(); ++i)
    want += src[i]->bytes.substr(ranges[i].pos, ranges[i].len);
  absl::StatusOr<absl::Span<const uint8_t>> got = DirectReader::ReadRanges(ranges, buf);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), want.size());
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(got->data()), got->size()), want);
}

TEST(DirectReader, DirectAndFallbackReadTheSameBytes) {
  // Sizes that are not multiples of the block: the last block is partial.
  const TempFile a("a", 3 * 4096 * 37 + 1234, 1), b("b", 100003, 2);
  for (const bool direct : {true, false}) {
    SCOPED_TRACE(direct ? "O_DIRECT requested" : "forced fallback (pread)");
    auto ra = DirectReader::Open(a.path, direct);
    auto rb = DirectReader::Open(b.path, direct);
    ASSERT_TRUE(ra.ok() && rb.ok());
    if (!direct) {
      EXPECT_FALSE((*ra)->direct());
    } else if (!(*ra)->direct()) {
      std::printf("note: %s refuses O_DIRECT, both runs used pread\n", a.path.c_str());
    }
    EXPECT_EQ((*ra)->size(), a.bytes.size());
    const DirectReader* fa = ra->get();
    const DirectReader* fb = rb->get();
    AlignedBuffer buf;
    const uint64_t na = a.bytes.size(), nb = b.bytes.size();
    // Edge cases: empty, whole file, aligned, sub-block, the last bytes.
    for (const auto& [pos, len] : std::vector<std::pair<uint64_t, uint64_t>>{{0, 0},
                                                                             {0, na},
                                                                             {4096, 8192},
                                                                             {4095, 2},
                                                                             {5000, 100},
                                                                             {na - 1, 1},
                                                                             {na - 4097, 4097},
                                                                             {8191, na - 8191}}) {
      ExpectRanges({{fa, pos, len}}, {&a}, &buf);
    }
    // Random single and multiple ranges (two files), laid end to end.
    std::mt19937 rng(3);
    for (int it = 0; it < 200; ++it) {
      std::vector<FileRange> ranges;
      std::vector<const TempFile*> src;
      const int n = 1 + it % 3;
      for (int i = 0; i < n; ++i) {
        const bool use_a = (rng() % 2) == 0;
        const uint64_t size = use_a ? na : nb;
        const uint64_t pos = rng() % size;
        const uint64_t len = (rng() % 4 == 0) ? rng() % 64 : rng() % (size - pos + 1);
        ranges.push_back({use_a ? fa : fb, pos, len});
        src.push_back(use_a ? &a : &b);
      }
      SCOPED_TRACE(testing::Message() << "iteration " << it);
      ExpectRanges(ranges, src, &buf);
    }
  }
}

TEST(DirectReader, PastTheEndIsAnErrorNamingTheFile) {
  const TempFile a("end", 5000, 4);
  auto r = DirectReader::Open(a.path);
  ASSERT_TRUE(r.ok());
  AlignedBuffer buf;
  absl::StatusOr<absl::Span<const uint8_t>> got =
      DirectReader::ReadRanges({{r->get(), 4000, 1001}}, &buf);
  ASSERT_FALSE(got.ok());
  EXPECT_THAT(std::string(got.status().message()), ::testing::HasSubstr(a.path));
  EXPECT_FALSE(DirectReader::Open(a.path + ".missing").ok());
}

TEST(DirectReader, EnvironmentCanTurnDirectReadsOff) {
  const TempFile a("env", 9000, 5);
  ::setenv("GLMQ_DIRECT_IO", "0", 1);
  auto r = DirectReader::Open(a.path);
  ::unsetenv("GLMQ_DIRECT_IO");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE((*r)->direct());
  AlignedBuffer buf;
  ExpectRanges({{r->get(), 17, 8000}}, {&a}, &buf);
}

TEST(AlignedBuffer, IsAlignedAndGrows) {
  AlignedBuffer buf;
  buf.Reserve(10);
  EXPECT_GE(buf.capacity(), 10u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(buf.data()) % DirectReader::kAlign, 0u);
  buf.Reserve(100000);
  EXPECT_GE(buf.capacity(), 100000u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(buf.data()) % DirectReader::kAlign, 0u);
  AlignedBuffer moved = std::move(buf);
  EXPECT_EQ(buf.capacity(), 0u);
  EXPECT_GE(moved.capacity(), 100000u);
}

}  // namespace
}  // namespace glmq
