// The generation loop of glmq generate: prefill a prompt after what a
// Session holds, then sample token by token until an eos id, a token
// limit, a full context or a stop request (Ctrl-C), streaming each token's
// text. ChatSession (chat_session.h) runs it once per turn.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "runtime/sampler.h"
#include "runtime/session.h"
#include "runtime/tokenizer/tokenizer.h"

namespace glmq {

enum class StopReason { kEos, kMaxTokens, kContextFull, kInterrupted };
const char* StopReasonName(StopReason r);

struct GenerateOptions {
  int64_t max_new_tokens = 128;
  // Checked between prefill chunks and before each new token; not owned.
  const std::atomic<bool>* stop = nullptr;
  // Set: the prompt is this sequence (images spliced in, runtime/sequence.h)
  // prefilled at once with Session::ForwardSpliced on an empty session;
  // `prompt` then only counts as its ids. Not owned.
  const SplicedSequence* sequence = nullptr;
};

struct GenerateResult {
  std::vector<int32_t> tokens;  // generated, without the eos id
  int64_t forwarded = 0;        // tokens[0, forwarded) are in the KV cache
  int64_t prefilled = 0;        // prompt tokens run (all, unless interrupted)
  StopReason reason = StopReason::kEos;
  double prefill_seconds = 0, decode_seconds = 0;
};

// Runs `prompt` (not empty) at session.position() and generates. `on_text`
// gets each token's bytes (a UTF-8 character may span two calls).
absl::StatusOr<GenerateResult> Generate(Session& session, const Tokenizer& tok, Sampler& sampler,
                                        absl::Span<const int32_t> prompt,
                                        const GenerateOptions& options,
                                        const std::function<void(absl::string_view)>& on_text);

// The ids a model may produce: min(tokenizer vocabulary, embedding rows).
int64_t SampleVocab(const Tokenizer& tok, const pb::HParams& hp);

}  // namespace glmq
