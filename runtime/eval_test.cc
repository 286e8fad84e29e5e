// Evaluation library: window plans of the three protocols, NLL statistics,
// KL divergence, and the saved-logits file format (round trip + corruption).
#include <cmath>
#include <filesystem>
#include <string>

#include "gtest/gtest.h"
#include "runtime/eval.h"
#include "runtime/logits_file.h"

namespace glmq {
namespace {

TEST(PlanWindows, FixtureProtocolScoresAllButTheFirstTokenOfFullWindows) {
  auto w = PlanWindows(76081, PplOptions{});
  ASSERT_TRUE(w.ok());
  ASSERT_EQ(w->size(), 297u);  // reference.json: 297 windows, 75,735 scored tokens
  int64_t scored = 0;
  for (const Window& x : *w) scored += x.len - x.first_target;
  EXPECT_EQ(scored, 75735);
  EXPECT_EQ((*w)[1].begin, 256);
}

TEST(PlanWindows, SecondHalfScoresLikeLlamaPerplexity) {
  PplOptions o;
  o.ctx = 512;
  o.score = ScoreMode::kSecondHalf;
  auto w = PlanWindows(2000, o);
  ASSERT_TRUE(w.ok());
  ASSERT_EQ(w->size(), 3u);
  // llama.cpp scores logits [n_ctx/2, n_ctx - 1): 255 targets per window.
  EXPECT_EQ((*w)[0].len - (*w)[0].first_target, 255);
}

TEST(PlanWindows, StridedScoresEveryTokenOnceLikeHf) {
  PplOptions o;
  o.ctx = 100;
  o.stride = 30;
  auto w = PlanWindows(250, o);
  ASSERT_TRUE(w.ok());
  std::vector<int> hits(250, 0);
  for (const Window& x : *w) {
    EXPECT_LE(x.len, 100);
    for (int64_t j = x.first_target; j < x.len; ++j) ++hits[x.begin + j];
  }
  EXPECT_EQ(hits[0], 0);
  for (int i = 1; i < 250; ++i) EXPECT_EQ(hits[i], 1) << i;
  EXPECT_EQ(w->back().begin + w->back().len, 250);
  o.stride = 101;
  EXPECT_FALSE(PlanWindows(250, o).ok());
  EXPECT_FALSE(PlanWindows(50, PplOptions{}).ok()) << "fewer tokens than one window";
}

TEST(NllStats, MeanStderrAndPpl) {
  NllStats s;
  for (double x : {1.0, 2.0, 3.0, 4.0}) s.Add(x);
  EXPECT_DOUBLE_EQ(s.mean(), 2.5);
  EXPECT_NEAR(s.stderr_mean(), std::sqrt((1.25 * 4 / 3) / 4), 1e-12);
  EXPECT_NEAR(s.ppl(), std::exp(2.5), 1e-9);
  EXPECT_NEAR(s.ppl_stderr(), std::exp(2.5) * s.stderr_mean(), 1e-9);
}

TEST(Kld, ZeroForIdenticalPositiveOtherwise) {
  const float a[6] = {1, 2, 3, 0, 0, 5};
  const float b[6] = {1, 2, 3, 5, 0, 0};
  // Targets index a row's 3 logits; 5 is out of range (this read past the
  // row before Add checked its targets).
  const int32_t bad[2] = {2, 5};
  KldAccumulator rejected;
  EXPECT_FALSE(rejected.Add(a, a, 2, 3, bad).ok());
  EXPECT_EQ(rejected.Finish().tokens, 0);
  const int32_t t[2] = {2, 1};
  KldAccumulator same;
  ASSERT_TRUE(same.Add(a, a, 2, 3, t).ok());
  KldResult r = same.Finish();
  EXPECT_NEAR(r.mean_kld, 0, 1e-12);
  EXPECT_EQ(r.top1_agreement, 1.0);
  KldAccumulator diff;
  const int32_t t2[2] = {2, 2};
  ASSERT_TRUE(diff.Add(a, b, 2, 3, t2).ok());
  r = diff.Finish();
  EXPECT_GT(r.mean_kld, 0.1);
  EXPECT_EQ(r.top1_agreement, 0.5);
  EXPECT_NEAR(r.kld_max, r.kld_p999, 0);
  EXPECT_GT(r.ppl_ratio(), 1.0);
}

TEST(LogitsFile, RoundTripAndCorruption) {
  const std::string path = std::string(GLMQ_BINARY_DIR) + "/runtime_eval_test.logits";
  LogitsHeader h;
  h.vocab = 3;
  h.ctx = 4;
  h.n_windows = 2;
  h.n_tokens = 8;
  const std::vector<int32_t> toks = {1, 2, 0, 1, 2, 2, 1, 0};
  h.tokens_xxh64 = TokensXxh64(toks);
  {
    auto w = LogitsWriter::Create(path, h);
    ASSERT_TRUE(w.ok());
    const std::vector<float> l(9, 0.5f);
    ASSERT_TRUE((*w)->Add({0, 4, 1}, l).ok());
    EXPECT_FALSE((*w)->Add({4, 4, 1}, {l.data(), 6}).ok());
    ASSERT_TRUE((*w)->Add({4, 4, 1}, l).ok());
    ASSERT_TRUE((*w)->Finish().ok());
  }
  auto r = LogitsReader::Open(path);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)->header().tokens_xxh64, TokensXxh64(toks));
  ASSERT_EQ((*r)->records().size(), 2u);
  EXPECT_EQ((*r)->records()[1].window.begin, 4);
  EXPECT_EQ((*r)->records()[1].logits[8], 0.5f);
  // Truncated file: rejected with a message, not read past the end.
  auto bytes = std::filesystem::file_size(path);
  std::filesystem::resize_file(path, bytes - 4);
  EXPECT_FALSE(LogitsReader::Open(path).ok());
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace glmq
