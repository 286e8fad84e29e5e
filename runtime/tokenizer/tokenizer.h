// The GLM-4 tokenizer: GLM-4 pre-tokenizer + byte-level BPE (tiktoken
// tokenizer.model or HF tokenizer.json) + special tokens + chat format.
//
// Files it reads (names as in a Hugging Face model folder):
//   tokenizer.model        tiktoken ranks, "base64(bytes) rank" per line; or
//   tokenizer.json         HF BPE (byte-level, GLM-4 regex);   one is required
//   tokenizer_config.json  added_tokens_decoder (specials), eos_token, chat_template
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

namespace glmq {

struct ChatMessage {
  std::string role;  // "system", "user", "assistant", "observation"
  std::string content;
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

  // The prompt GLM-4's chat template renders: "[gMASK]<sop>", then per message
  // "<|role|>\n" + content, then "<|assistant|>" (plus "\n" where the model's
  // template has it) if add_generation_prompt. Role tags are special ids;
  // contents are encoded as plain text (specials inside are not honoured).
  std::vector<int32_t> EncodeChat(const std::vector<ChatMessage>& messages,
                                  bool add_generation_prompt = true) const;

  bool IsEos(int32_t id) const;
  const std::vector<int32_t>& eos_ids() const { return eos_ids_; }
  // Regular + special tokens (1 + the largest id).
  int64_t vocab_size() const { return vocab_size_; }
  std::optional<int32_t> SpecialTokenId(absl::string_view content) const;
  // content -> id of every special token.
  const std::map<std::string, int32_t>& special_tokens() const { return specials_; }
  // "tiktoken" or "hf-bpe" (pb::Tokenizer.kind).
  const std::string& kind() const { return kind_; }
  const std::string& chat_template() const { return chat_template_; }

 private:
  friend class TokenizerBuilder;
  Tokenizer() = default;
  void EncodeOrdinary(absl::string_view text, std::vector<int32_t>* ids) const;
  void AppendSpecial(absl::string_view content, std::vector<int32_t>* ids) const;

  std::string kind_;
  tok::BpeModel bpe_;
  std::map<std::string, int32_t> specials_;                     // content -> id
  absl::flat_hash_map<int32_t, std::string> special_by_id_;     // id -> content
  std::vector<int32_t> eos_ids_;
  int64_t vocab_size_ = 0;
  std::string chat_template_;
  // From the chat template (GLM-4 defaults when there is none).
  std::string generation_prompt_ = "<|assistant|>";  // may end in "\n"
  bool skip_empty_messages_ = false;  // glm-4-9b-chat: {% if item['content'] %}
  bool any_role_ = true;              // "<|{{ item['role'] }}|>" vs a fixed role list
};

}  // namespace glmq
