// The GLM-4 tokenizer: GLM-4 pre-tokenizer + byte-level BPE (tiktoken
// tokenizer.model or HF tokenizer.json) + special tokens + the model's chat
// template (chat_template.h, rendered by glmq's Jinja subset).
//
// Files it reads (names as in a Hugging Face model folder):
//   tokenizer.model        tiktoken ranks, "base64(bytes) rank" per line; or
//   tokenizer.json         HF BPE (byte-level, GLM-4 regex);   one is required
//   tokenizer_config.json  added_tokens_decoder (specials), eos_token, chat_template
//   chat_template.jinja    the chat template (wins over tokenizer_config.json's), optional
//   generation_config.json, config.json   eos_token_id (int or list), optional
// All methods are const and thread-safe once constructed.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "runtime/tokenizer/bpe.h"
#include "runtime/tokenizer/chat_template.h"

namespace glmq {

struct ChatMessage {
  std::string role;  // "system", "user", "assistant", "observation"
  std::string content;
};

struct ChatEncodeOptions {
  bool add_generation_prompt = true;
  // Special-token strings inside message data (contents, tool JSON) become
  // special ids. Off by default: text a user typed must not forge turns
  // ("<|assistant|>") or control tokens.
  bool special_in_messages = false;
};

struct TokenizerOptions {
  // Extra end-of-sequence ids (e.g. pb::Tokenizer.eos_token_ids of a .glmq).
  std::vector<int32_t> extra_eos_ids;
};

class Tokenizer {
 public:
  // `files` maps a file name ("tokenizer.model", ...) to its bytes. When both
  // tokenizer.model and tokenizer.json are given, tokenizer.model is used.
  static absl::StatusOr<std::unique_ptr<Tokenizer>> FromFiles(
      const std::map<std::string, std::string>& files, const TokenizerOptions& options = {});
  // Reads the files above that exist in folder `path`.
  static absl::StatusOr<std::unique_ptr<Tokenizer>> FromDir(const std::string& path,
                                                            const TokenizerOptions& options = {});
  // The file names FromDir looks for.
  static const std::vector<std::string>& KnownFileNames();

  // Token ids of `text`. With allow_special=false special-token strings are
  // ordinary text (the perplexity protocol); with true they become their ids.
  // Never fails: invalid UTF-8 bytes are encoded as their byte tokens.
  std::vector<int32_t> Encode(absl::string_view text, bool allow_special = false) const;
  // Concatenated token bytes (specials as their text). Ids that are neither
  // regular nor special tokens (e.g. embedding padding rows) decode to "".
  // The result is the exact input bytes for any Encode output.
  std::string Decode(absl::Span<const int32_t> ids) const;
  std::string DecodeToken(int32_t id) const;

  // The ids Hugging Face's `tokenizer.encode(text)` puts in front of the
  // text: ChatGLM4Tokenizer's [gMASK]<sop> for a tokenizer.model, the
  // TemplateProcessing post-processor's specials for a tokenizer.json
  // (none for GLM-4-0414's, which has none).
  const std::vector<int32_t>& prefix_ids() const { return prefix_ids_; }
  // prefix_ids() + Encode(text, allow_special), as tokenizer.encode(text);
  // the prefix is not repeated when the text's own ids begin with it.
  std::vector<int32_t> EncodeWithPrefix(absl::string_view text, bool allow_special = false) const;

  // The conversation rendered by the model's chat template (GLM-4's format
  // when tokenizer_config.json has none). Errors: a template outside
  // glmq's Jinja subset, a bad conversation, raise_exception.
  absl::StatusOr<jinja::MarkedText> RenderChat(const Conversation& c,
                                               bool add_generation_prompt = true) const;
  // RenderChat, then EncodeMarked: the template's special tokens become
  // ids, special-token strings in message data only with
  // special_in_messages. Equals transformers' apply_chat_template(
  // tokenize=True) whenever the message data holds no special-token text.
  absl::StatusOr<std::vector<int32_t>> EncodeChat(const Conversation& c,
                                                  const ChatEncodeOptions& options = {}) const;
  absl::StatusOr<std::vector<int32_t>> EncodeChat(const std::vector<ChatMessage>& messages,
                                                  bool add_generation_prompt = true) const;
  // Encodes rendered text: a special-token string becomes its id when all
  // its bytes are trusted, or anywhere with `special_anywhere`.
  std::vector<int32_t> EncodeMarked(const jinja::MarkedText& text, bool special_anywhere) const;
  // The chat template's text ("" when the tokenizer has none).
  const std::string& chat_template() const { return chat_template_; }

  bool IsEos(int32_t id) const;
  const std::vector<int32_t>& eos_ids() const { return eos_ids_; }
  // Regular + special tokens (1 + the largest id).
  int64_t vocab_size() const { return vocab_size_; }
  std::optional<int32_t> SpecialTokenId(absl::string_view content) const;
  // content -> id of every special token.
  const std::map<std::string, int32_t>& special_tokens() const { return specials_; }
  // "tiktoken" or "hf-bpe" (pb::Tokenizer.kind).
  const std::string& kind() const { return kind_; }

 private:
  friend class TokenizerBuilder;
  Tokenizer() = default;
  void EncodeOrdinary(absl::string_view text, std::vector<int32_t>* ids) const;
  // Encode with special tokens where `marks` allows them (all trusted
  // when null).
  void EncodeSpecials(absl::string_view text, const jinja::MarkedText* marks,
                      std::vector<int32_t>* ids) const;

  std::string kind_;
  tok::BpeModel bpe_;
  std::map<std::string, int32_t> specials_;                     // content -> id
  absl::flat_hash_map<int32_t, std::string> special_by_id_;     // id -> content
  std::vector<int32_t> eos_ids_;
  std::vector<int32_t> prefix_ids_;
  int64_t vocab_size_ = 0;
  std::string chat_template_;
  // The parsed template, or why it could not be parsed (reported on use).
  absl::StatusOr<ChatTemplate> chat_ = absl::UnknownError("no chat template");
};

}  // namespace glmq
