// The pieces under generate --interactive on the trained tiny fixture:
// Session::Truncate then continuing gives the logits a fresh prefill gives,
// Generate honours a stop request, and ChatSession's second turn reuses the
// first turn's prompt and reply from the KV cache.
#include "runtime/chat_session.h"

#include <atomic>
#include <cmath>

#include "gtest/gtest.h"
#include "runtime/generate.h"
#include "tests/runtime_fixture_util.h"

namespace glmq {
namespace {

std::unique_ptr<Tokenizer> FixtureTokenizer(const std::string& name) {
  auto t = Tokenizer::FromDir(SharedDir() + "/fixtures/models/" + name);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *std::move(t) : nullptr;
}

std::vector<float> LastLogits(Session& s, const std::vector<int32_t>& ids) {
  std::vector<float> logits;
  EXPECT_TRUE(s.Forward(ids, ForwardOutput::kLastLogits, &logits).ok());
  return logits;
}

TEST(ChatSessionFixture, TruncateThenContinueMatchesAFreshPrefill) {
  auto model = LoadFixture("glm4-tiny-chat");
  ASSERT_NE(model, nullptr);
  const std::vector<int32_t> valid = ValidTokens();
  const std::vector<int32_t> a(valid.begin(), valid.begin() + 40);
  const std::vector<int32_t> b(valid.begin() + 100, valid.begin() + 120);
  SessionOptions so;
  so.max_context = 256;
  auto s = Session::Create(model.get(), so);
  ASSERT_TRUE(s.ok());
  LastLogits(**s, a);  // 40 tokens in the cache
  (*s)->Truncate(25);
  EXPECT_EQ((*s)->position(), 25);
  const std::vector<float> reused = LastLogits(**s, b);
  std::vector<int32_t> whole(a.begin(), a.begin() + 25);
  whole.insert(whole.end(), b.begin(), b.end());
  (*s)->Reset();
  const std::vector<float> fresh = LastLogits(**s, whole);
  ASSERT_EQ(reused.size(), fresh.size());
  double max_diff = 0;
  for (size_t i = 0; i < fresh.size(); ++i)
    max_diff = std::max<double>(max_diff, std::fabs(reused[i] - fresh[i]));
  EXPECT_LT(max_diff, 1e-3);  // f32 throughout; only the chunking differs
}

TEST(ChatSessionFixture, GenerateStopsWhenAsked) {
  auto model = LoadFixture("glm4-tiny-chat");
  auto tok = FixtureTokenizer("glm4-tiny-chat");
  ASSERT_NE(model, nullptr);
  auto s = Session::Create(model.get(), SessionOptions{});
  ASSERT_TRUE(s.ok());
  Sampler sampler(SamplerOptions{}, SampleVocab(*tok, model->hparams()));
  std::atomic<bool> stop{true};
  GenerateOptions go;
  go.stop = &stop;
  auto r =
      Generate(**s, *tok, sampler, tok->EncodeWithPrefix("Hello"), go, [](absl::string_view) {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->reason, StopReason::kInterrupted);
  EXPECT_TRUE(r->tokens.empty());
  EXPECT_EQ((*s)->position(), 0);
  stop = false;
  go.max_new_tokens = 5;
  r = Generate(**s, *tok, sampler, tok->EncodeWithPrefix("Hello"), go, [](absl::string_view) {});
  ASSERT_TRUE(r.ok());
  EXPECT_LE(r->tokens.size(), 5u);
  EXPECT_EQ((*s)->position(),
            static_cast<int64_t>(tok->EncodeWithPrefix("Hello").size()) + r->forwarded);
}

TEST(ChatSessionFixture, SecondTurnReusesPromptAndReply) {
  // The HF-layout template ends its prompt with "<|assistant|>\n" and writes
  // an assistant message as "<|assistant|>\n" + content: the render of the
  // next turn begins with the prompt and the reply as generated.
  auto model = LoadFixture("glm4-tiny-chat-hf");
  auto tok = FixtureTokenizer("glm4-tiny-chat-hf");
  ASSERT_NE(model, nullptr);
  auto s = Session::Create(model.get(), SessionOptions{});
  ASSERT_TRUE(s.ok());
  ChatSession chat(s->get(), tok.get(), ChatEncodeOptions{});
  Sampler sampler(SamplerOptions{}, SampleVocab(*tok, model->hparams()));
  GenerateOptions go;
  go.max_new_tokens = 8;
  chat.conversation().Add("user", "Hello there");
  auto r1 = chat.Reply(sampler, go, [](absl::string_view) {});
  ASSERT_TRUE(r1.ok()) << r1.status();
  const int64_t first = chat.prompt_tokens();
  EXPECT_EQ(chat.reused_tokens(), 0);
  ASSERT_FALSE(r1->tokens.empty());
  ASSERT_EQ(chat.conversation().messages.size(), 2u);
  EXPECT_EQ(chat.conversation().messages[1]["content"], tok->Decode(r1->tokens));
  chat.conversation().Add("user", "And then?");
  auto r2 = chat.Reply(sampler, go, [](absl::string_view) {});
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_EQ(chat.reused_tokens(), first + r1->forwarded);
  // What ran: the reply's unforwarded last token (if any) and the new turn.
  const int64_t new_turn = 3 + static_cast<int64_t>(tok->Encode("\nAnd then?").size());
  EXPECT_EQ(chat.prompt_tokens() - chat.reused_tokens(),
            new_turn + static_cast<int64_t>(r1->tokens.size()) - r1->forwarded);
}

}  // namespace
}  // namespace glmq
