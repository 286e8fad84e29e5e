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
    return ids;
  }
  // Split at special-token strings: leftmost occurrence, longest on a tie.
  size_t start = 0, pos = 0;
  while (pos < text.size()) {
    const std::string* best = nullptr;
    int32_t best_id = -1;
    for (const auto& [content, id] : specials_) {
      if (content[0] != text[pos]) continue;
      if (text.substr(pos, content.size()) == content &&
          (best == nullptr || content.size() > best->size())) {
        best = &content;
        best_id = id;
      }
    }
    if (best == nullptr) {
      ++pos;
      continue;
    }
    EncodeOrdinary(text.substr(start, pos - start), &ids);
    ids.push_back(best_id);
    pos += best->size();
    start = pos;
  }
  EncodeOrdinary(text.substr(start), &ids);
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

void Tokenizer::AppendSpecial(absl::string_view content, std::vector<int32_t>* ids) const {
  auto it = specials_.find(std::string(content));
  if (it != specials_.end()) {
    ids->push_back(it->second);
  } else {
    EncodeOrdinary(content, ids);  // what the rendered template text would give
  }
}

std::vector<int32_t> Tokenizer::EncodeChat(const std::vector<ChatMessage>& messages,
                                           bool add_generation_prompt) const {
  static const char* const kRoles[] = {"system", "user", "assistant", "observation"};
  std::vector<int32_t> ids;
  AppendSpecial("[gMASK]", &ids);
  AppendSpecial("<sop>", &ids);
  for (const ChatMessage& m : messages) {
    if (skip_empty_messages_ && m.content.empty()) continue;
    if (!any_role_ && std::find(std::begin(kRoles), std::end(kRoles), m.role) == std::end(kRoles)) {
      continue;  // the template has no branch for this role: it renders nothing
    }
    AppendSpecial(absl::StrCat("<|", m.role, "|>"), &ids);
    EncodeOrdinary(absl::StrCat("\n", m.content), &ids);
  }
  if (add_generation_prompt) {
    // generation_prompt_ is a special tag, possibly followed by plain text ("\n").
    absl::string_view gp = generation_prompt_;
    const size_t tag_end = gp.find("|>");
    if (gp.substr(0, 2) == "<|" && tag_end != absl::string_view::npos) {
      AppendSpecial(gp.substr(0, tag_end + 2), &ids);
      EncodeOrdinary(gp.substr(tag_end + 2), &ids);
    } else {
      EncodeOrdinary(gp, &ids);
    }
  }
  return ids;
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
