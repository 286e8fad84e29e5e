#include "export/gguf_vocab.h"

#include <map>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "core/json.h"
#include "core/status.h"
#include "runtime/tokenizer/loaders.h"

namespace glmq::gguf {
namespace {

// The code point GPT-2's bytes_to_unicode assigns to each byte.
const std::vector<uint32_t>& ByteCodePoints() {
  static const auto* cps = [] {
    auto* v = new std::vector<uint32_t>(256);
    int n = 0;
    for (uint32_t b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      (*v)[b] = printable ? b : 256 + n++;
    }
    return v;
  }();
  return *cps;
}

void AppendUtf8(uint32_t cp, std::string* s) {
  if (cp < 0x80) {
    s->push_back(static_cast<char>(cp));
  } else {  // bytes_to_unicode code points are below 0x800
    s->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    s->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// BPE of `token` using only merges whose result ranks below `max_rank`
// (convert_hf_to_gguf.py's ChatGLMModel.bpe): the parts it stops at.
std::vector<std::string> BpeParts(const absl::flat_hash_map<std::string, int32_t>& ranks,
                                  absl::string_view token, int32_t max_rank) {
  std::vector<std::string> parts;
  for (char c : token) parts.emplace_back(1, c);
  while (parts.size() > 1) {
    int best = -1;
    int32_t best_rank = max_rank;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      auto it = ranks.find(parts[i] + parts[i + 1]);
      if (it != ranks.end() && it->second < best_rank) {
        best = static_cast<int>(i);
        best_rank = it->second;
      }
    }
    if (best < 0) break;
    parts[best] += parts[best + 1];
    parts.erase(parts.begin() + best + 1);
  }
  return parts;
}

}  // namespace

std::string BytesToByteLevel(absl::string_view bytes) {
  std::string s;
  for (unsigned char b : bytes) AppendUtf8(ByteCodePoints()[b], &s);
  return s;
}

absl::StatusOr<GgufVocab> BuildGgufVocab(const Tokenizer& tok, int64_t n_tokens) {
  if (tok.vocab_size() > n_tokens) {
    return absl::InvalidArgumentError(absl::StrCat("the tokenizer has ", tok.vocab_size(),
                                                   " ids, more than the ", n_tokens,
                                                   " embedding rows"));
  }
  absl::flat_hash_map<int32_t, std::string> special_by_id;
  for (const auto& [content, id] : tok.special_tokens()) special_by_id[id] = content;
  GgufVocab v;
  v.tokens.resize(n_tokens);
  v.types.resize(n_tokens);
  absl::flat_hash_map<std::string, int32_t> ranks;
  std::vector<std::string> bytes_of(n_tokens);
  for (int32_t id = 0; id < n_tokens; ++id) {
    if (auto it = special_by_id.find(id); it != special_by_id.end()) {
      v.tokens[id] = it->second;
      v.types[id] = kTokenControl;
      continue;
    }
    bytes_of[id] = id < tok.vocab_size() ? tok.DecodeToken(id) : std::string();
    if (bytes_of[id].empty()) {
      v.tokens[id] = absl::StrCat("[PAD", id, "]");
      v.types[id] = kTokenUnused;
      continue;
    }
    v.tokens[id] = BytesToByteLevel(bytes_of[id]);
    v.types[id] = kTokenNormal;
    ranks[bytes_of[id]] = id;
  }
  for (int32_t id = 0; id < n_tokens; ++id) {
    if (v.types[id] != kTokenNormal || bytes_of[id].size() < 2) continue;
    std::vector<std::string> parts = BpeParts(ranks, bytes_of[id], id);
    if (parts.size() != 2) {
      ++v.unmergeable;
      continue;
    }
    v.merges.push_back(absl::StrCat(BytesToByteLevel(parts[0]), " ", BytesToByteLevel(parts[1])));
  }
  return v;
}

absl::StatusOr<TokenizerFiles> TokenizerFilesFromGguf(const GgufFile& f) {
  GLMQ_ASSIGN_OR_RETURN(std::string model, f.GetString("tokenizer.ggml.model"));
  if (model != "gpt2") {
    return absl::InvalidArgumentError(absl::StrCat(f.name(), ": tokenizer.ggml.model is '", model,
                                                   "'; glmq imports GLM-4's BPE ('gpt2')"));
  }
  GLMQ_ASSIGN_OR_RETURN(const Value* tokens,
                        f.GetArray("tokenizer.ggml.tokens", ValueType::kString));
  GLMQ_ASSIGN_OR_RETURN(const Value* types,
                        f.GetArray("tokenizer.ggml.token_type", ValueType::kI32));
  if (types->ints.size() != tokens->strings.size()) {
    return absl::InvalidArgumentError(absl::StrCat(f.name(), ": tokenizer.ggml.token_type has ",
                                                   types->ints.size(), " entries for ",
                                                   tokens->strings.size(), " tokens"));
  }
  TokenizerFiles out;
  Json added = Json::object();
  int64_t next_rank = 0;
  for (size_t id = 0; id < tokens->strings.size(); ++id) {
    const std::string& t = tokens->strings[id];
    const int64_t type = types->ints[id];
    if (type == kTokenControl || type == kTokenUserDefined) {
      added[std::to_string(id)] = Json{{"content", t}, {"special", true}};
      out.specials[t] = static_cast<int64_t>(id);
      continue;
    }
    if (type != kTokenNormal) continue;
    const std::string where = absl::StrCat(f.name(), ": tokenizer.ggml.tokens[", id, "]");
    if (static_cast<int64_t>(id) != next_rank) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": regular tokens must have the ids 0..n-1 (tiktoken ranks)"));
    }
    GLMQ_ASSIGN_OR_RETURN(std::string bytes, tok::ByteLevelToBytes(t, where));
    absl::StrAppend(&out.tiktoken, absl::Base64Escape(bytes), " ", next_rank++, "\n");
  }
  if (next_rank < 256) {
    return absl::InvalidArgumentError(
        absl::StrCat(f.name(), ": only ", next_rank, " regular tokens (the 256 bytes are needed)"));
  }
  Json cfg{{"added_tokens_decoder", added}};
  if (const Value* t = f.Find("tokenizer.chat_template"); t && t->type == ValueType::kString) {
    cfg["chat_template"] = t->s;
    out.chat_template = t->s;
  }
  for (absl::string_view key : {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id"}) {
    if (f.Find(key) == nullptr) continue;
    GLMQ_ASSIGN_OR_RETURN(int64_t id, f.GetInt(key));
    if (id < 0 || id >= static_cast<int64_t>(tokens->strings.size())) {
      return absl::InvalidArgumentError(absl::StrCat(f.name(), ": ", key, " ", id, " is no token"));
    }
    if (key == "tokenizer.ggml.eos_token_id") cfg["eos_token"] = tokens->strings[id];
    out.eos_ids.push_back(id);
  }
  // GLM-4 also stops on <|observation|> (generation_config.json eos_token_id).
  if (auto it = out.specials.find("<|observation|>"); it != out.specials.end()) {
    out.eos_ids.push_back(it->second);
  }
  out.tokenizer_config = cfg.dump(2, ' ', false, Json::error_handler_t::replace);
  return out;
}

}  // namespace glmq::gguf
