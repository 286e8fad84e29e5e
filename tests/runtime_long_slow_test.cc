// Parity at 32K positions (../shared/fixtures/reference/long/): the first
// 32,768 ids of valid.txt as ONE sequence, prefilled in chunks of 512 up to
// position 32766 and the last token as a cached decode step, against the
// oracle: rows <= 4095 within 1e-4, row 16383 and the last 256 rows (the
// decode row among them) within 5e-4, mean NLL of the last 1,024 predictions
// within 1e-5 relative. glm4-tiny-chat is configured for 8,192 positions and
// runs with the context override. For glm4-tiny-chat-1m an int8 KV session
// runs in lockstep: mean KL(f32 KV || int8 KV) over all 32,767 predictions
// <= 1e-3.
#include <cstdio>

#include "gtest/gtest.h"
#include "runtime/eval.h"
#include "runtime/session.h"
#include "tests/runtime_long_util.h"

namespace glmq {
namespace {

struct LongRun {
  std::vector<float> rows_at, last;  // [3, vocab], [256, vocab]
  NllStats nll_last1024;
  KldAccumulator kl;  // against `other`, when given
};

// Token ranges: chunks of 512 up to 32767, then the last token alone.
std::vector<std::pair<int64_t, int64_t>> Parts() {
  std::vector<std::pair<int64_t, int64_t>> p;
  for (int64_t c0 = 0; c0 < kLongTokens - 1; c0 += 512)
    p.push_back({c0, std::min<int64_t>(512, kLongTokens - 1 - c0)});
  p.push_back({kLongTokens - 1, 1});
  return p;
}

void RunLong(Session& s, Session* other, const std::vector<int32_t>& ids, LongRun* out) {
  const int64_t vocab = s.model().hparams().padded_vocab_size();
  out->rows_at.resize(3 * vocab);
  out->last.resize(256 * vocab);
  std::vector<float> a, b;
  std::vector<double> lp;
  for (const auto& [c0, n] : Parts()) {
    const absl::Span<const int32_t> part(ids.data() + c0, n);
    ASSERT_TRUE(s.Forward(part, ForwardOutput::kAllLogits, &a).ok());
    if (other != nullptr) {
      ASSERT_TRUE(other->Forward(part, ForwardOutput::kAllLogits, &b).ok());
    }
    for (int64_t r = 0; r < n; ++r) {
      const int64_t t = c0 + r;
      const float* row = a.data() + r * vocab;
      for (int i = 0; i < 3; ++i) {
        if (t == kLongRowsAt[i]) std::copy(row, row + vocab, out->rows_at.begin() + i * vocab);
      }
      if (t >= kLongTokens - 256)
        std::copy(row, row + vocab, out->last.begin() + (t - (kLongTokens - 256)) * vocab);
      if (t + 1 >= kLongTokens) continue;  // the last row predicts nothing here
      if (t >= kLongTokens - 1025) {
        LogSoftmax(row, vocab, &lp);
        out->nll_last1024.Add(-lp[ids[t + 1]]);
      }
      if (other != nullptr) {
        ASSERT_TRUE(out->kl.Add(row, b.data() + r * vocab, 1, vocab, &ids[t + 1]).ok());
      }
    }
  }
}

class LongParity : public ::testing::TestWithParam<std::string> {};

TEST_P(LongParity, LogitsAndNllAt32kPositions) {
  const std::string name = GetParam();
  const LongReference ref = LoadLongReference(name);
  ASSERT_EQ(ref.ids.size(), static_cast<size_t>(kLongTokens));
  std::unique_ptr<Model> model = LoadFixture(name);
  ASSERT_NE(model, nullptr);
  const int64_t vocab = model->hparams().padded_vocab_size();
  SessionOptions so;
  so.max_context = kLongTokens;
  so.context_override = model->hparams().max_context() < kLongTokens;
  so.prefill_chunk = 512;
  auto s = Session::Create(model.get(), so);
  ASSERT_TRUE(s.ok()) << s.status();
  std::unique_ptr<Session> int8;
  if (name == "glm4-tiny-chat-1m") {
    so.kv_type = KvType::kInt8;
    auto s8 = Session::Create(model.get(), so);
    ASSERT_TRUE(s8.ok()) << s8.status();
    int8 = std::move(*s8);
  }
  LongRun run;
  RunLong(**s, int8.get(), ref.ids, &run);
  if (HasFatalFailure()) return;

  const float at[3] = {
      MaxAbsDiff(run.rows_at.data(), ref.logits_at.data(), vocab),
      MaxAbsDiff(run.rows_at.data() + vocab, ref.logits_at.data() + vocab, vocab),
      MaxAbsDiff(run.rows_at.data() + 2 * vocab, ref.logits_at.data() + 2 * vocab, vocab)};
  const float last = MaxAbsDiff(run.last.data(), ref.logits_last.data(), 256 * vocab);
  const float decode =
      MaxAbsDiff(run.last.data() + 255 * vocab, ref.logits_last.data() + 255 * vocab, vocab);
  const double rel_nll =
      std::fabs(run.nll_last1024.mean() - ref.mean_nll_last1024) / ref.mean_nll_last1024;
  EXPECT_LE(at[0], 1e-4f) << "row 1023";
  EXPECT_LE(at[1], 1e-4f) << "row 4095";
  EXPECT_LE(at[2], 5e-4f) << "row 16383";
  EXPECT_LE(last, 5e-4f) << "rows 32512..32767";
  EXPECT_LE(decode, 5e-4f) << "row 32767 (cached decode)";
  EXPECT_EQ(run.nll_last1024.count, 1024);
  EXPECT_LE(rel_nll, 1e-5) << run.nll_last1024.mean() << " vs " << ref.mean_nll_last1024;
  std::printf(
      "%s: max |diff| rows 1023 %.2e, 4095 %.2e, 16383 %.2e, last 256 %.2e "
      "(decode row %.2e); mean NLL last 1024 %.7f (ref %.7f, rel %.1e)\n",
      name.c_str(), at[0], at[1], at[2], last, decode, run.nll_last1024.mean(),
      ref.mean_nll_last1024, rel_nll);
  if (int8 != nullptr) {
    const KldResult kl = run.kl.Finish();
    EXPECT_EQ(kl.tokens, kLongTokens - 1);
    EXPECT_LE(kl.mean_kld, 1e-3);
    std::printf(
        "%s int8 KV vs f32 KV: mean KL %.3e (p99.9 %.3e, max %.3e), top-1 %.4f, "
        "KV bytes %llu vs %llu\n",
        name.c_str(), kl.mean_kld, kl.kld_p999, kl.kld_max, kl.top1_agreement,
        static_cast<unsigned long long>(int8->kv_cache().allocated_bytes()),
        static_cast<unsigned long long>((*s)->kv_cache().allocated_bytes()));
    RecordProperty("int8_mean_kl", std::to_string(kl.mean_kld));
  }
}

INSTANTIATE_TEST_SUITE_P(Models, LongParity,
                         ::testing::Values("glm4-tiny-chat-1m", "glm4-tiny-chat"),
                         FixtureParamName);

}  // namespace
}  // namespace glmq
