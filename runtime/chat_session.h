// A conversation kept in one Session's KV cache across turns (glmq
// generate --chat / --interactive). Each Reply renders the whole
// conversation with the model's chat template, and prefills only what the
// cache does not already hold: after a reply, the next turn's render
// begins with the previous prompt and the reply as the model produced
// them, so only the new turn's tokens run. When a template rewrites
// history, the longest common prefix of ids is kept and the rest re-run.
// Not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/generate.h"
#include "runtime/sampler.h"
#include "runtime/sequence.h"
#include "runtime/session.h"
#include "runtime/tokenizer/tokenizer.h"

namespace glmq {

class ChatSession {
 public:
  // `session` and `tok` are not owned and must outlive this object.
  ChatSession(Session* session, const Tokenizer* tok, const ChatEncodeOptions& encode);

  // The messages so far; add the next user (or observation) turn here.
  Conversation& conversation() { return conversation_; }

  // The prompt ids the next Reply would run, whole (for --show-prompt).
  absl::StatusOr<std::vector<int32_t>> PromptIds() const;

  // Prefills the new part of the rendered conversation, generates, and
  // appends the reply (when not empty) as an assistant message. Error (and
  // nothing changed) when the conversation does not fit the context.
  absl::StatusOr<GenerateResult> Reply(Sampler& sampler, const GenerateOptions& options,
                                       const std::function<void(absl::string_view)>& on_text);

  // Of the last Reply's prompt: tokens already in the cache, and its length.
  int64_t reused_tokens() const { return reused_; }
  int64_t prompt_tokens() const { return prompt_; }

  // Forgets the messages and the cache.
  void Reset();

  // Conversations with images (runtime/vision/multimodal.h builds the
  // function: image slots inserted into the rendered ids, the embeddings
  // spliced in): the sequence the model runs for a prompt's ids. While set,
  // each Reply runs its whole sequence from an empty cache (spliced rows
  // are no token ids a later turn could match). Null: text only.
  using SequenceFn =
      std::function<absl::StatusOr<SplicedSequence>(const std::vector<int32_t>& ids)>;
  void set_sequence_fn(SequenceFn fn) { sequence_fn_ = std::move(fn); }

 private:
  // The prompt ids for `text`, reusing cached_ids_ when the text extends
  // cached_text_.
  std::vector<int32_t> Target(const jinja::MarkedText& text) const;
  // Reply through sequence_fn_ for the rendered `text` and its ids.
  absl::StatusOr<GenerateResult> ReplySpliced(
      Sampler& sampler, const GenerateOptions& options,
      const std::function<void(absl::string_view)>& on_text, const jinja::MarkedText& text,
      const std::vector<int32_t>& ids);
  // The assistant message content for reply `tokens` to `prompt`.
  std::string ReplyContent(const std::string& prompt, const std::vector<int32_t>& tokens) const;

  Session* session_;
  const Tokenizer* tok_;
  ChatEncodeOptions encode_;
  Conversation conversation_;
  std::vector<int32_t> cached_ids_;  // what the KV cache holds
  std::string cached_text_;          // rendered text of cached_ids_; "" when not known
  int64_t reused_ = 0, prompt_ = 0;
  SequenceFn sequence_fn_;
};

}  // namespace glmq
