// Statistics collection and the statistics file: the collector's sums match
// a direct computation, the file round-trips exactly, and corruption or
// truncation is reported, never read.
#include <cmath>
#include <cstdio>
#include <random>
#include <string>

#include "core/file.h"
#include "gtest/gtest.h"
#include "runtime/calib/stats.h"
#include "runtime/calib/stats_file.h"

namespace glmq {
namespace {

std::vector<float> Randn(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d;
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

std::string TempPath(const std::string& name) {
  return std::string(::testing::TempDir()) + "/" + name;
}

TEST(CalibStats, CollectorMatchesDirectSums) {
  const int64_t cols = 24;
  StatsOptions opt;
  opt.max_samples = 10;
  opt.end_layer = 1;  // layer 1 is filtered out
  StatsCollector c(opt);
  std::vector<float> a = Randn(70 * cols, 1), b = Randn(30 * cols, 2);
  c.Observe(0, LinearInput::kFfnDown, a.data(), 70, cols);
  c.Observe(0, LinearInput::kFfnDown, b.data(), 30, cols);
  c.Observe(1, LinearInput::kFfnDown, a.data(), 70, cols);
  c.Observe(-1, LinearInput::kOutput, a.data(), 5, cols);
  std::vector<InputStats> all = c.Finish();
  ASSERT_EQ(all.size(), 2u);
  const InputStats& s = all[0];
  EXPECT_EQ(s.weight, "blk.0.ffn_down.weight");
  EXPECT_EQ(all[1].weight, "output.weight");
  EXPECT_EQ(s.count, 100);
  EXPECT_EQ(s.n_samples(), 10);
  std::vector<float> x = a;
  x.insert(x.end(), b.begin(), b.end());
  for (int64_t i = 0; i < cols; ++i) {
    double sx2 = 0, sab = 0;
    for (int64_t t = 0; t < 100; ++t) {
      sx2 += double{x[t * cols + i]} * x[t * cols + i];
      sab += std::fabs(x[t * cols + i]);
    }
    EXPECT_NEAR(s.sum_x2[i], sx2, 1e-9 * sx2);
    EXPECT_NEAR(s.sum_abs[i], sab, 1e-9 * sab);
    for (int64_t j = 0; j < cols; ++j) {
      double g = 0;
      for (int64_t t = 0; t < 100; ++t) g += double{x[t * cols + i]} * x[t * cols + j];
      EXPECT_NEAR(s.xtx[i * cols + j], g, 1e-4) << i << "," << j;
      EXPECT_EQ(s.xtx[i * cols + j], s.xtx[j * cols + i]);
    }
  }
  // Every sampled row is one of the observed rows.
  for (int64_t r = 0; r < s.n_samples(); ++r) {
    bool found = false;
    for (int64_t t = 0; t < 100 && !found; ++t)
      found = std::equal(&s.samples[r * cols], &s.samples[(r + 1) * cols], &x[t * cols]);
    EXPECT_TRUE(found) << r;
  }
}

InputStats MakeStats() {
  StatsOptions opt;
  opt.max_samples = 4;
  StatsCollector c(opt);
  std::vector<float> a = Randn(9 * 16, 3);
  c.Observe(2, LinearInput::kAttnQkv, a.data(), 9, 16);
  return c.Finish()[0];
}

TEST(CalibStats, FileRoundTripAndCorruption) {
  const std::string path = TempPath("calib_roundtrip.stats");
  const InputStats s = MakeStats();
  {
    auto w = StatsWriter::Create(path).value();
    w->metadata().set_data_name("train.txt");
    w->metadata().set_data_xxh64(0x1234);
    w->metadata().set_n_tokens(9);
    w->metadata().set_has_xtx(true);
    ASSERT_TRUE(w->Add(s).ok());
    ASSERT_TRUE(w->Finish().ok());
  }
  auto f = StatsFile::Open(path).value();
  EXPECT_EQ(f->metadata().data_name(), "train.txt");
  EXPECT_EQ(f->metadata().data_xxh64(), 0x1234u);
  EXPECT_EQ(f->metadata().version(), kStatsFileVersion);
  InputStats got = f->Load("blk.2.attn_qkv.weight").value();
  EXPECT_EQ(got.count, s.count);
  EXPECT_EQ(got.sum_x2, s.sum_x2);
  EXPECT_EQ(got.sum_abs, s.sum_abs);
  EXPECT_EQ(got.xtx, s.xtx);
  EXPECT_EQ(got.samples, s.samples);
  EXPECT_EQ(f->Load("blk.0.attn_qkv.weight").status().code(), absl::StatusCode::kNotFound);
  f.reset();

  std::string bytes = ReadFileToString(path).value();
  // A flipped payload byte: the record's checksum catches it on Load.
  std::string bad = bytes;
  bad[48] ^= 0x40;
  ASSERT_TRUE(WriteFileAtomically(path + ".bad", bad).ok());
  auto fb = StatsFile::Open(path + ".bad").value();
  EXPECT_EQ(fb->Load("blk.2.attn_qkv.weight").status().code(), absl::StatusCode::kDataLoss);
  // A flipped metadata byte, truncation, wrong magic: Open fails.
  bad = bytes;
  bad[bytes.size() - 3] ^= 0x01;
  ASSERT_TRUE(WriteFileAtomically(path + ".bad", bad).ok());
  EXPECT_FALSE(StatsFile::Open(path + ".bad").ok());
  ASSERT_TRUE(WriteFileAtomically(path + ".bad", bytes.substr(0, bytes.size() - 10)).ok());
  EXPECT_FALSE(StatsFile::Open(path + ".bad").ok());
  bad = bytes;
  bad[0] = 'X';
  ASSERT_TRUE(WriteFileAtomically(path + ".bad", bad).ok());
  EXPECT_FALSE(StatsFile::Open(path + ".bad").ok());
  std::remove((path + ".bad").c_str());
  std::remove(path.c_str());
}

}  // namespace
}  // namespace glmq
