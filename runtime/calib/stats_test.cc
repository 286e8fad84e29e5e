// Statistics collection and the statistics file: the collector's sums match
// a direct computation, the file round-trips exactly, and corruption or
// truncation is reported, never read.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>

#include "core/checksum.h"
#include "core/file.h"
#include "gtest/gtest.h"
#include "runtime/calib/stats.h"
#include "format/stats_file.h"

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

// What calibrate's default pass size is computed from, for the shapes of the
// real glm-4-9b-chat and GLM-4-32B-0414 configs (../shared/reference): 2
// and 1 layers fit its 4 GiB budget (specs/calibration.md).
TEST(CalibStats, LayerStatsBytesOfRealShapes) {
  pb::HParams glm9b;
  glm9b.set_hidden_size(4096);
  glm9b.set_n_heads(32);
  glm9b.set_head_dim(128);
  glm9b.set_ffn_hidden_size(13696);
  StatsOptions o;  // X^T X and 512 sample rows
  // qkv, attn_output, gate_up: 4096 channels; ffn_down: 13696.
  EXPECT_EQ(LayerStatsBytes(glm9b, o),
            3 * 4096ull * (16 + 8 * 4096 + 4 * 512) + 13696ull * (16 + 8 * 13696 + 4 * 512));
  EXPECT_EQ((4ull << 30) / LayerStatsBytes(glm9b, o), 2u);
  pb::HParams glm32b;
  glm32b.set_hidden_size(6144);
  glm32b.set_n_heads(48);
  glm32b.set_head_dim(128);
  glm32b.set_ffn_hidden_size(23040);
  EXPECT_EQ((4ull << 30) / LayerStatsBytes(glm32b, o), 0u);  // clamped to 1 layer
  o.collect_xtx = false;
  o.max_samples = 0;
  EXPECT_EQ(LayerStatsBytes(glm9b, o), (3 * 4096ull + 13696) * 16);
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
  // X^T X is stored as its f32 upper triangle (version 2): f32-rounded,
  // still symmetric.
  ASSERT_EQ(got.xtx.size(), s.xtx.size());
  for (size_t i = 0; i < s.xtx.size(); ++i)
    EXPECT_EQ(got.xtx[i], static_cast<double>(static_cast<float>(s.xtx[i]))) << i;
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

// A version 1 file (X^T X as the f64 square), written byte by byte as the
// writer of that version did.
std::string VersionOneFile(const InputStats& s, uint32_t version) {
  std::string out(40, '\0');
  calib::pb::StatsMetadata meta;
  meta.set_version(version);
  meta.set_has_xtx(true);
  calib::pb::InputRecord* rec = meta.add_inputs();
  rec->set_weight(s.weight);
  rec->set_layer(s.layer);
  rec->set_cols(s.cols);
  rec->set_count(s.count);
  rec->set_n_samples(s.n_samples());
  auto add = [&](const char* what, const void* data, uint64_t n, bool f64) {
    while (out.size() % 8) out.push_back('\0');
    calib::pb::ArrayRef* a = rec->add_arrays();
    a->set_what(what);
    a->set_f64(f64);
    a->set_offset(out.size());
    a->set_n_values(n);
    const uint64_t bytes = n * (f64 ? 8 : 4);
    a->set_xxh64(XxHash64(data, bytes));
    out.append(static_cast<const char*>(data), bytes);
  };
  add("sum_x2", s.sum_x2.data(), s.sum_x2.size(), true);
  add("sum_abs", s.sum_abs.data(), s.sum_abs.size(), true);
  add("xtx", s.xtx.data(), s.xtx.size(), true);
  add("samples", s.samples.data(), s.samples.size(), false);
  while (out.size() % 8) out.push_back('\0');
  const std::string m = meta.SerializeAsString();
  const uint64_t off = out.size(), len = m.size(), sum = XxHash64(m);
  out += m;
  std::memcpy(&out[0], "GLMQCALB", 8);
  std::memcpy(&out[8], &version, 4);
  std::memcpy(&out[16], &off, 8);
  std::memcpy(&out[24], &len, 8);
  std::memcpy(&out[32], &sum, 8);
  return out;
}

TEST(CalibStats, VersionOneFilesStillLoad) {
  const std::string path = TempPath("calib_v1.stats");
  const InputStats s = MakeStats();
  ASSERT_TRUE(WriteFileAtomically(path, VersionOneFile(s, 1)).ok());
  auto f = StatsFile::Open(path).value();
  InputStats got = f->Load(s.weight).value();
  EXPECT_EQ(got.xtx, s.xtx);  // f64, exact
  EXPECT_EQ(got.sum_x2, s.sum_x2);
  EXPECT_EQ(got.samples, s.samples);
  f.reset();
  // A version this glmq does not know: a clear error naming it.
  ASSERT_TRUE(WriteFileAtomically(path, VersionOneFile(s, 3)).ok());
  absl::Status st = StatsFile::Open(path).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(std::string(st.message()).find("version 3, this glmq reads versions 1 to 2"),
            std::string::npos)
      << st;
  std::remove(path.c_str());
}

}  // namespace
}  // namespace glmq
