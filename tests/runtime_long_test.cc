// Long-context mechanics on glm4-tiny-chat-1m over the first 1,024 ids of
// the long reference: chunked prefill (several chunk sizes) equals one
// chunk, cached decode equals the full forward, bf16 / int8 KV stay close to
// f32 KV, the KV allocation follows the positions in whole blocks and equals
// the planner's figure, and contexts the model or the memory cannot hold are
// refused before anything is allocated.
#include "gtest/gtest.h"
#include "plan/memory.h"
#include "runtime/eval.h"
#include "runtime/session.h"
#include "tests/runtime_long_util.h"

namespace glmq {
namespace {

constexpr int64_t kN = 1024;

class Long : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    model_ = LoadFixture("glm4-tiny-chat-1m").release();
    const LongReference ref = LoadLongReference("glm4-tiny-chat-1m");
    ids_ = new std::vector<int32_t>(ref.ids.begin(), ref.ids.begin() + kN);
    if (model_ != nullptr) one_chunk_ = new std::vector<float>(Logits(*NewSession(kN), *ids_));
  }
  static void TearDownTestSuite() {
    delete model_;
    delete ids_;
    delete one_chunk_;
  }
  static std::unique_ptr<Session> NewSession(int64_t chunk, KvType kv = KvType::kF32) {
    SessionOptions so;
    so.max_context = kN;
    so.prefill_chunk = chunk;
    so.kv_type = kv;
    auto s = Session::Create(model_, so);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }
  static std::vector<float> Logits(Session& s, absl::Span<const int32_t> ids) {
    std::vector<float> out;
    EXPECT_TRUE(s.Forward(ids, ForwardOutput::kAllLogits, &out).ok());
    return out;
  }
  static Model* model_;
  static std::vector<int32_t>* ids_;
  static std::vector<float>* one_chunk_;  // [kN, vocab] logits of one chunk of kN
};
Model* Long::model_ = nullptr;
std::vector<int32_t>* Long::ids_ = nullptr;
std::vector<float>* Long::one_chunk_ = nullptr;

TEST_F(Long, ChunkedPrefillEqualsOneChunk) {
  ASSERT_NE(model_, nullptr);
  const std::vector<float>& one = *one_chunk_;
  ASSERT_EQ(one.size(), static_cast<size_t>(kN * 4160));
  for (int64_t chunk : {1, 7, 300}) {
    // (Token by token over the first 128 positions only: 1,024 single-token
    // steps take long on a loaded machine and add nothing.)
    const int64_t n = chunk == 1 ? 128 : kN;
    const std::vector<float> got =
        Logits(*NewSession(chunk), absl::Span<const int32_t>(*ids_).first(n));
    ASSERT_EQ(got.size(), static_cast<size_t>(n * 4160));
    const float d = MaxAbsDiff(got.data(), one.data(), got.size());
    // Chunks tile the keys exactly as one chunk does unless they are too
    // small to keep both threads busy: then the keys are split between
    // threads and merged (chunk 7: ~1e-5 on logits of magnitude ~10).
    EXPECT_LE(d, 2e-5f) << "chunk " << chunk;
    std::printf("chunk %lld: max |logit diff| vs one chunk %.2e\n", (long long)chunk, d);
  }
}

TEST_F(Long, CachedDecodeEqualsTheFullForward) {
  ASSERT_NE(model_, nullptr);
  const std::vector<float>& full = *one_chunk_;
  std::unique_ptr<Session> s = NewSession(512);
  const int64_t prompt = kN - 8;
  ASSERT_TRUE(
      s->Forward(absl::Span<const int32_t>(*ids_).first(prompt), ForwardOutput::kNone, nullptr)
          .ok());
  std::vector<float> logits;
  for (int64_t t = prompt; t < kN; ++t) {
    ASSERT_TRUE(s->Forward(absl::Span<const int32_t>(*ids_).subspan(t, 1),
                           ForwardOutput::kLastLogits, &logits)
                    .ok());
    // Decode's GEMV and prefill's GEMM (quant/gemm.h) sum in different
    // orders: 2.1e-5 measured on logits of magnitude ~10.
    EXPECT_LE(MaxAbsDiff(logits.data(), full.data() + t * 4160, 4160), 4e-5f) << "position " << t;
  }
}

// Chat re-renders (runtime/chat_session.h) cut the cache back with
// Session::Truncate: positions after the cut are overwritten in their blocks,
// whatever the KV type, and the result equals a fresh prefill.
TEST_F(Long, TruncateInsideABlockThenContinuingEqualsAFreshPrefill) {
  ASSERT_NE(model_, nullptr);
  const absl::Span<const int32_t> ids(*ids_);
  for (KvType kv : {KvType::kF32, KvType::kInt8}) {
    const std::vector<float> fresh = Logits(*NewSession(512, kv), ids);
    std::unique_ptr<Session> s = NewSession(512, kv);
    std::vector<int32_t> other(ids.begin(), ids.begin() + 700);  // 3 blocks, then a cut at 300
    for (int64_t i = 300; i < 700; ++i) other[i] = (other[i] * 31 + 7) % 4096;
    ASSERT_TRUE(s->Forward(other, ForwardOutput::kNone, nullptr).ok());
    s->Truncate(300);
    ASSERT_EQ(s->position(), 300);
    const std::vector<float> got = Logits(*s, ids.subspan(300));
    ASSERT_EQ(got.size(), static_cast<size_t>((kN - 300) * 4160));
    EXPECT_LE(MaxAbsDiff(got.data(), fresh.data() + 300 * 4160, got.size()), 2e-5f)
        << Traits(kv).name;
  }
}

TEST_F(Long, HalfAndInt8KvStayCloseToF32) {
  ASSERT_NE(model_, nullptr);
  for (KvType kv : {KvType::kBF16, KvType::kInt8}) {
    std::unique_ptr<Session> ref = NewSession(512), s = NewSession(512, kv);
    PplOptions o;
    o.ctx = kN;
    auto r = KlDivergence(*ref, *s, *ids_, o);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->tokens, kN - 1);
    EXPECT_LE(r->mean_kld, 1e-3) << Traits(kv).name;
    EXPECT_GT(r->mean_kld, 0.0) << Traits(kv).name;
    std::printf("%s KV vs f32 KV over %lld positions: mean KL %.3e, top-1 %.4f\n",
                std::string(Traits(kv).name).c_str(), (long long)kN, r->mean_kld,
                r->top1_agreement);
  }
}

TEST_F(Long, KvMemoryFollowsThePositionsAndEqualsThePlan) {
  ASSERT_NE(model_, nullptr);
  for (KvType kv : {KvType::kBF16, KvType::kInt8}) {
    std::unique_ptr<Session> s = NewSession(512, kv);
    EXPECT_EQ(s->kv_cache().allocated_bytes(), 0u) << "nothing before the first token";
    int64_t done = 0;
    for (int64_t n : {1, 299, 400, 324}) {  // positions 1, 300, 700, 1024
      ASSERT_TRUE(s->Forward(absl::Span<const int32_t>(*ids_).subspan(done, n),
                             ForwardOutput::kNone, nullptr)
                      .ok());
      done += n;
      plan::PlanOptions po;
      po.contexts = {done};
      auto p = plan::MakePlan(model_->hparams(), po);
      ASSERT_TRUE(p.ok()) << p.status();
      const size_t k = kv == KvType::kBF16 ? 0 : 1;
      ASSERT_EQ(plan::AllKvTypes()[k].type, kv);
      EXPECT_EQ(s->kv_cache().allocated_bytes(), plan::KvBytes(*p, k, done))
          << Traits(kv).name << " at " << done << " positions";
      EXPECT_EQ(s->kv_cache().allocated_bytes(), (done + 255) / 256 * 256 * p->kv_per_token[k]);
    }
  }
}

TEST_F(Long, RefusesContextsTheModelOrTheMemoryCannotHold) {
  ASSERT_NE(model_, nullptr);
  SessionOptions so;
  so.max_context = (1 << 20) + 1;
  auto s = Session::Create(model_, so);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_NE(s.status().message().find("1048576"), std::string::npos) << s.status();
  so.max_context = 1 << 20;  // 1 GiB of bf16 KV for this model
  so.kv_type = KvType::kBF16;
  so.memory_limit = 256 << 20;
  s = Session::Create(model_, so);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(s.status().message().find("1.00 GiB of bf16 KV cache"), std::string::npos)
      << s.status();
  EXPECT_NE(s.status().message().find("int8 0.53 GiB"), std::string::npos) << s.status();
  so.memory_limit = 2ull << 30;
  s = Session::Create(model_, so);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ((*s)->kv_cache().allocated_bytes(), 0u) << "a 1M context costs nothing until used";
}

}  // namespace
}  // namespace glmq
