#include "runtime/chat_session.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/status.h"

namespace glmq {

ChatSession::ChatSession(Session* session, const Tokenizer* tok, const ChatEncodeOptions& encode)
    : session_(session), tok_(tok), encode_(encode) {
  encode_.add_generation_prompt = true;
}

void ChatSession::Reset() {
  conversation_ = Conversation();
  cached_ids_.clear();
  cached_text_.clear();
  session_->Reset();
}

std::vector<int32_t> ChatSession::Target(const jinja::MarkedText& text) const {
  if (cached_text_.empty() || !absl::StartsWith(text.text, cached_text_)) {
    return tok_->EncodeMarked(text, encode_.special_in_messages);
  }
  std::vector<int32_t> ids = cached_ids_;
  const std::vector<int32_t> rest = tok_->EncodeMarked(
      text.Sub(cached_text_.size(), text.text.size()), encode_.special_in_messages);
  ids.insert(ids.end(), rest.begin(), rest.end());
  return ids;
}

absl::StatusOr<std::vector<int32_t>> ChatSession::PromptIds() const {
  GLMQ_ASSIGN_OR_RETURN(jinja::MarkedText text, tok_->RenderChat(conversation_, true));
  return Target(text);
}

absl::StatusOr<GenerateResult> ChatSession::Reply(
    Sampler& sampler, const GenerateOptions& options,
    const std::function<void(absl::string_view)>& on_text) {
  GLMQ_ASSIGN_OR_RETURN(jinja::MarkedText text, tok_->RenderChat(conversation_, true));
  const std::vector<int32_t> target = Target(text);
  if (sequence_fn_) return ReplySpliced(sampler, options, on_text, text, target);
  const int64_t n = static_cast<int64_t>(target.size());
  if (n >= session_->max_context()) {
    return absl::OutOfRangeError(absl::StrCat("the conversation is ", n, " tokens, the context ",
                                              session_->max_context(),
                                              " (--ctx): start over (/reset) or raise --ctx"));
  }
  // Keep the cached tokens the new prompt starts with; at least one token
  // must run to give the next token's logits.
  int64_t keep =
      std::mismatch(cached_ids_.begin(), cached_ids_.end(), target.begin(), target.end()).first -
      cached_ids_.begin();
  keep = std::min(keep, n - 1);
  session_->Truncate(keep);
  if (keep < static_cast<int64_t>(cached_ids_.size())) cached_text_.clear();
  cached_ids_.resize(keep);
  reused_ = keep;
  prompt_ = n;
  absl::StatusOr<GenerateResult> r = Generate(
      *session_, *tok_, sampler, absl::MakeConstSpan(target).subspan(keep), options, on_text);
  if (!r.ok()) {  // the session may hold part of the prompt: forget the cache
    session_->Reset();
    cached_ids_.clear();
    cached_text_.clear();
    return r.status();
  }
  cached_ids_.insert(cached_ids_.end(), target.begin() + keep,
                     target.begin() + keep + r->prefilled);
  cached_ids_.insert(cached_ids_.end(), r->tokens.begin(), r->tokens.begin() + r->forwarded);
  const bool whole_prompt = keep + r->prefilled == n;
  cached_text_ = whole_prompt ? text.text + tok_->Decode(absl::MakeConstSpan(r->tokens).first(
                                                static_cast<size_t>(r->forwarded)))
                              : std::string();
  if (!r->tokens.empty()) conversation_.Add("assistant", ReplyContent(text.text, r->tokens));
  return r;
}

absl::StatusOr<GenerateResult> ChatSession::ReplySpliced(
    Sampler& sampler, const GenerateOptions& options,
    const std::function<void(absl::string_view)>& on_text, const jinja::MarkedText& text,
    const std::vector<int32_t>& ids) {
  GLMQ_ASSIGN_OR_RETURN(SplicedSequence seq, sequence_fn_(ids));
  const int64_t n = seq.size();
  if (n >= session_->max_context()) {
    return absl::OutOfRangeError(absl::StrCat("the conversation is ", n,
                                              " rows with its images, the context ",
                                              session_->max_context(),
                                              " (--ctx): start over (/reset) or raise --ctx"));
  }
  session_->Reset();
  cached_ids_.clear();
  cached_text_.clear();
  reused_ = 0;
  prompt_ = n;
  GenerateOptions go = options;
  go.sequence = &seq;
  absl::StatusOr<GenerateResult> r = Generate(*session_, *tok_, sampler, ids, go, on_text);
  if (!r.ok()) {
    session_->Reset();
    return r.status();
  }
  if (!r->tokens.empty()) conversation_.Add("assistant", ReplyContent(text.text, r->tokens));
  return r;
}

std::string ChatSession::ReplyContent(const std::string& prompt,
                                      const std::vector<int32_t>& tokens) const {
  // GLM-4-9B-chat's template ends the prompt with "<|assistant|>" and the
  // model starts its reply with "\n", which the template writes itself
  // before an assistant message; HF-layout templates end the prompt with
  // "<|assistant|>\n". Take the content that renders as prompt + reply, so
  // the next turn's render extends what the cache holds.
  const std::string reply = tok_->Decode(tokens);
  std::vector<std::string> candidates = {reply};
  if (absl::StartsWith(reply, "\n")) candidates.push_back(reply.substr(1));
  for (const std::string& content : candidates) {
    Conversation c = conversation_;
    c.Add("assistant", content);
    absl::StatusOr<jinja::MarkedText> r = tok_->RenderChat(c, false);
    if (r.ok() && absl::StartsWith(r->text, prompt + reply)) return content;
  }
  return candidates.back();
}

}  // namespace glmq
