#include "runtime/generate.h"

#include <algorithm>
#include <chrono>

#include "core/status.h"

namespace glmq {
namespace {

// Prefill slices: a stop request is seen between them.
constexpr int64_t kPrefillSlice = 256;

bool Stopped(const GenerateOptions& o) {
  return o.stop != nullptr && o.stop->load(std::memory_order_relaxed);
}

double Since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

const char* StopReasonName(StopReason r) {
  switch (r) {
    case StopReason::kEos:
      return "eos";
    case StopReason::kMaxTokens:
      return "token limit";
    case StopReason::kContextFull:
      return "context full";
    case StopReason::kInterrupted:
      return "interrupted";
  }
  return "?";
}

int64_t SampleVocab(const Tokenizer& tok, const pb::HParams& hp) {
  return tok.vocab_size() > 0 ? std::min<int64_t>(tok.vocab_size(), hp.padded_vocab_size())
                              : hp.padded_vocab_size();
}

absl::StatusOr<GenerateResult> Generate(Session& session, const Tokenizer& tok, Sampler& sampler,
                                        absl::Span<const int32_t> prompt,
                                        const GenerateOptions& options,
                                        const std::function<void(absl::string_view)>& on_text) {
  if (prompt.empty()) return absl::InvalidArgumentError("empty prompt: nothing to prefill");
  GenerateResult r;
  std::vector<float> logits;
  auto t0 = std::chrono::steady_clock::now();
  if (options.sequence != nullptr) {
    GLMQ_RETURN_IF_ERROR(
        session.ForwardSpliced(*options.sequence, ForwardOutput::kLastLogits, &logits));
    r.prefilled = static_cast<int64_t>(prompt.size());
  }
  for (size_t done = options.sequence ? prompt.size() : 0; done < prompt.size();) {
    if (Stopped(options)) {
      r.reason = StopReason::kInterrupted;
      r.prefill_seconds = Since(t0);
      return r;
    }
    const size_t n = std::min<size_t>(kPrefillSlice, prompt.size() - done);
    const bool last = done + n == prompt.size();
    GLMQ_RETURN_IF_ERROR(session.Forward(prompt.subspan(done, n),
                                         last ? ForwardOutput::kLastLogits : ForwardOutput::kNone,
                                         last ? &logits : nullptr));
    done += n;
    r.prefilled = static_cast<int64_t>(done);
  }
  r.prefill_seconds = Since(t0);
  t0 = std::chrono::steady_clock::now();
  r.reason = StopReason::kMaxTokens;
  while (static_cast<int64_t>(r.tokens.size()) < options.max_new_tokens) {
    if (Stopped(options)) {
      r.reason = StopReason::kInterrupted;
      break;
    }
    const int32_t next = sampler.Pick(logits);
    if (tok.IsEos(next)) {
      r.reason = StopReason::kEos;
      break;
    }
    r.tokens.push_back(next);
    on_text(tok.DecodeToken(next));
    if (static_cast<int64_t>(r.tokens.size()) == options.max_new_tokens) break;
    if (session.position() >= session.max_context()) {
      r.reason = StopReason::kContextFull;
      break;
    }
    const int32_t one[1] = {next};
    GLMQ_RETURN_IF_ERROR(session.Forward(one, ForwardOutput::kLastLogits, &logits));
    r.forwarded = static_cast<int64_t>(r.tokens.size());
  }
  r.decode_seconds = Since(t0);
  return r;
}

}  // namespace glmq
