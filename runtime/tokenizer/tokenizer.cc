// Tokenizer encode / decode / chat. Loading is in tokenizer_load.cc.
#include "runtime/tokenizer/tokenizer.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "runtime/tokenizer/pretokenize.h"

namespace glmq {

void Tokenizer::EncodeOrdinary(absl::string_view text, std::vector<int32_t>* ids) const {
  thread_local std::vector<absl::string_view> pieces;
  pieces.clear();
  tok::PreTokenize(text, &pieces);
  for (absl::string_view piece : pieces) bpe_.Encode(piece, ids);
}

std::vector<int32_t> Tokenizer::Encode(absl::string_view text, bool allow_special) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 1);
  if (!allow_special || specials_.empty()) {
    EncodeOrdinary(text, &ids);
  } else {
    EncodeSpecials(text, nullptr, &ids);
  }
  return ids;
}

void Tokenizer::EncodeSpecials(absl::string_view text, const jinja::MarkedText* marks,
                               std::vector<int32_t>* ids) const {
  // Split at special-token strings: leftmost occurrence, longest on a tie,
  // among those `marks` allows.
  size_t start = 0, pos = 0;
  while (pos < text.size()) {
    size_t best_len = 0;
    int32_t best_id = -1;
    for (const auto& [content, id] : specials_) {
      if (content[0] != text[pos] || content.size() <= best_len) continue;
      if (text.substr(pos, content.size()) != content) continue;
      if (marks != nullptr && !marks->Trusted(pos, pos + content.size())) continue;
      best_len = content.size();
      best_id = id;
    }
    if (best_len == 0) {
      ++pos;
      continue;
    }
    EncodeOrdinary(text.substr(start, pos - start), ids);
    ids->push_back(best_id);
    pos += best_len;
    start = pos;
  }
  EncodeOrdinary(text.substr(start), ids);
}

std::vector<int32_t> Tokenizer::EncodeWithPrefix(absl::string_view text,
                                                 bool allow_special) const {
  std::vector<int32_t> body = Encode(text, allow_special);
  if (!prefix_ids_.empty() && body.size() >= prefix_ids_.size() &&
      std::equal(prefix_ids_.begin(), prefix_ids_.end(), body.begin())) {
    return body;
  }
  std::vector<int32_t> ids = prefix_ids_;
  ids.insert(ids.end(), body.begin(), body.end());
  return ids;
}

std::string Tokenizer::DecodeToken(int32_t id) const {
  const absl::string_view bytes = bpe_.TokenBytes(id);
  if (!bytes.empty()) return std::string(bytes);
  auto it = special_by_id_.find(id);
  return it == special_by_id_.end() ? std::string() : it->second;
}

std::string Tokenizer::Decode(absl::Span<const int32_t> ids) const {
  std::string out;
  for (int32_t id : ids) {
    const absl::string_view bytes = bpe_.TokenBytes(id);
    if (!bytes.empty()) {
      out.append(bytes.data(), bytes.size());
    } else if (auto it = special_by_id_.find(id); it != special_by_id_.end()) {
      out += it->second;
    }
  }
  return out;
}

std::vector<int32_t> Tokenizer::EncodeMarked(const jinja::MarkedText& text,
                                             bool special_anywhere) const {
  std::vector<int32_t> ids;
  ids.reserve(text.text.size() / 3 + 1);
  EncodeSpecials(text.text, special_anywhere ? nullptr : &text, &ids);
  return ids;
}

absl::StatusOr<jinja::MarkedText> Tokenizer::RenderChat(const Conversation& c,
                                                        bool add_generation_prompt) const {
  if (!chat_.ok()) return chat_.status();
  return chat_->Render(c, add_generation_prompt);
}

absl::StatusOr<std::vector<int32_t>> Tokenizer::EncodeChat(const Conversation& c,
                                                           const ChatEncodeOptions& options) const {
  absl::StatusOr<jinja::MarkedText> text = RenderChat(c, options.add_generation_prompt);
  if (!text.ok()) return text.status();
  return EncodeMarked(*text, options.special_in_messages);
}

absl::StatusOr<std::vector<int32_t>> Tokenizer::EncodeChat(
    const std::vector<ChatMessage>& messages, bool add_generation_prompt) const {
  Conversation c;
  for (const ChatMessage& m : messages) c.Add(m.role, m.content);
  ChatEncodeOptions options;
  options.add_generation_prompt = add_generation_prompt;
  return EncodeChat(c, options);
}

bool Tokenizer::IsEos(int32_t id) const {
  return std::binary_search(eos_ids_.begin(), eos_ids_.end(), id);
}

std::optional<int32_t> Tokenizer::SpecialTokenId(absl::string_view content) const {
  auto it = specials_.find(std::string(content));
  if (it == specials_.end()) return std::nullopt;
  return it->second;
}

}  // namespace glmq
