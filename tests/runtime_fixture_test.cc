// The three trained fixtures (../shared/fixtures), converted with the convert
// library and run by the runtime, against the independent reference:
// p1_en logits (max abs diff < 1e-3, same top-5) and valid-split perplexity
// (within 0.1%: slow, full 297 windows; the quick test checks the chat /
// chat-hf layouts give identical perplexity on a subset).
#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/json.h"
#include "gtest/gtest.h"
#include "runtime/eval.h"
#include "runtime/model.h"
#include "runtime/session.h"
#include "tests/runtime_fixture_util.h"

namespace glmq {
namespace {

class Fixture : public ::testing::TestWithParam<std::string> {};

TEST_P(Fixture, P1EnLogitsMatchReference) {
  const std::string name = GetParam();
  std::unique_ptr<Model> model = LoadFixture(name);
  ASSERT_NE(model, nullptr);
  const std::string ref = SharedDir() + "/fixtures/reference/" + name;
  auto ids_npy = ReadNpy(ref + ".p1_en.ids.npy");
  auto logits_npy = ReadNpy(ref + ".p1_en.logits.npy");
  ASSERT_TRUE(ids_npy.ok() && logits_npy.ok());
  const std::vector<int32_t> ids = NpyValues<int32_t>(*ids_npy);
  const std::vector<float> want = NpyValues<float>(*logits_npy);
  const int64_t vocab = model->hparams().padded_vocab_size();
  ASSERT_EQ(want.size(), ids.size() * vocab);
  SessionOptions so;
  so.max_context = 64;
  so.prefill_chunk = 7;  // several chunks, so the KV cache is exercised
  auto session = Session::Create(model.get(), so);
  ASSERT_TRUE(session.ok()) << session.status();
  std::vector<float> got;
  ASSERT_TRUE((*session)->Forward(ids, ForwardOutput::kAllLogits, &got).ok());
  ASSERT_EQ(got.size(), want.size());
  float worst = 0;
  for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::abs(got[i] - want[i]));
  EXPECT_LT(worst, 1e-3f) << name << ": max abs logit diff";
  RecordProperty("max_abs_logit_diff", std::to_string(worst));

  auto refjson = ReadJsonFile(SharedDir() + "/fixtures/reference/reference.json");
  ASSERT_TRUE(refjson.ok());
  const Json& top5 = (*refjson)["models"][name]["prompts"]["p1_en"]["top5_next"];
  const float* last = got.data() + (ids.size() - 1) * vocab;
  std::vector<int> order(vocab);
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + 5, order.end(),
                    [&](int a, int b) { return last[a] > last[b]; });
  for (int i = 0; i < 5; ++i) EXPECT_EQ(order[i], top5[i][0].get<int>()) << name << " top-" << i;
}

TEST(FixtureQuick, ChatAndChatHfLayoutsGiveIdenticalPerplexity) {
  const std::vector<int32_t> tokens = ValidTokens();
  ASSERT_EQ(tokens.size(), 76081u);
  PplOptions opt;
  opt.max_windows = 6;
  double ppl[2];
  int i = 0;
  for (const char* name : {"glm4-tiny-chat", "glm4-tiny-chat-hf"}) {
    std::unique_ptr<Model> model = LoadFixture(name);
    ASSERT_NE(model, nullptr);
    auto session = Session::Create(model.get(), SessionOptions{});
    ASSERT_TRUE(session.ok());
    auto r = Perplexity(**session, tokens, opt);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->nll.count, 6 * 255);
    EXPECT_FALSE(r->non_finite);
    ppl[i++] = r->nll.ppl();
  }
  EXPECT_EQ(ppl[0], ppl[1]);
  // A trained model on its own valid text: far better than uniform (4160).
  EXPECT_LT(ppl[0], 400);
  EXPECT_GT(ppl[0], 20);
}

INSTANTIATE_TEST_SUITE_P(Models, Fixture,
                         ::testing::Values("glm4-tiny-chat", "glm4-tiny-chat-hf", "glm4-tiny-0414"),
                         FixtureParamName);

}  // namespace
}  // namespace glmq
