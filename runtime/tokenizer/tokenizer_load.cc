// Tokenizer::FromFiles / FromDir: picks the BPE file, reads special tokens,
// eos ids and the chat template. See tokenizer.h for the files.
#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/file.h"
#include "core/status.h"
#include "runtime/tokenizer/loaders.h"
#include "runtime/tokenizer/tokenizer.h"

namespace glmq {

// The 14 specials ChatGLM4Tokenizer (tokenization_chatglm.py) appends after
// the tiktoken ranks, in id order; used when tokenizer_config.json has no
// added_tokens_decoder.
static const char* const kGlm4Specials[] = {
    "<|endoftext|>", "[MASK]",          "[gMASK]",          "[sMASK]",
    "<sop>",         "<eop>",           "<|system|>",       "<|user|>",
    "<|assistant|>", "<|observation|>", "<|begin_of_image|>", "<|end_of_image|>",
    "<|begin_of_video|>", "<|end_of_video|>"};

class TokenizerBuilder {
 public:
  static absl::StatusOr<std::unique_ptr<Tokenizer>> Build(
      const std::map<std::string, std::string>& files, const TokenizerOptions& options);

 private:
  static absl::Status LoadBpe(const std::map<std::string, std::string>& files, Tokenizer* t,
                              std::vector<tok::SpecialToken>* specials);
  static absl::Status LoadConfig(const Json& cfg, Tokenizer* t,
                                 std::vector<tok::SpecialToken>* specials);
  static absl::Status AddSpecials(const std::vector<tok::SpecialToken>& specials, Tokenizer* t);
  static absl::Status AddEos(const std::map<std::string, std::string>& files, const Json& cfg,
                             const TokenizerOptions& options, Tokenizer* t);
  static void SetTiktokenPrefix(Tokenizer* t);
  static void SetChatTemplate(const Json& cfg, Tokenizer* t);
};

absl::Status TokenizerBuilder::LoadBpe(const std::map<std::string, std::string>& files,
                                       Tokenizer* t, std::vector<tok::SpecialToken>* specials) {
  if (auto it = files.find("tokenizer.model"); it != files.end()) {
    GLMQ_ASSIGN_OR_RETURN(auto tokens, tok::ParseTiktoken(it->second, "tokenizer.model"));
    GLMQ_ASSIGN_OR_RETURN(t->bpe_, tok::BpeModel::Create(tok::BpeModel::Mode::kRanks,
                                                         std::move(tokens), "tokenizer.model"));
    t->kind_ = "tiktoken";
    return absl::OkStatus();
  }
  if (auto it = files.find("tokenizer.json"); it != files.end()) {
    GLMQ_ASSIGN_OR_RETURN(Json root, ParseJson(it->second, "tokenizer.json"));
    try {
      GLMQ_ASSIGN_OR_RETURN(t->bpe_, tok::ParseHfTokenizerJson(root, "tokenizer.json", specials));
      GLMQ_ASSIGN_OR_RETURN(t->prefix_ids_, tok::ParsePostProcessorPrefix(root, "tokenizer.json"));
    } catch (const std::exception& e) {
      return absl::InvalidArgumentError(absl::StrCat("tokenizer.json: ", e.what()));
    }
    t->kind_ = "hf-bpe";
    return absl::OkStatus();
  }
  return absl::NotFoundError("no tokenizer.model or tokenizer.json among the tokenizer files");
}

absl::Status TokenizerBuilder::LoadConfig(const Json& cfg, Tokenizer* t,
                                          std::vector<tok::SpecialToken>* specials) {
  constexpr absl::string_view kWhere = "tokenizer_config.json";
  if (cfg.contains("added_tokens_decoder") && !cfg["added_tokens_decoder"].is_null()) {
    const Json& dec = cfg["added_tokens_decoder"];
    if (!dec.is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat(kWhere, ": field 'added_tokens_decoder': not an object"));
    }
    for (auto it = dec.begin(); it != dec.end(); ++it) {
      const std::string field = absl::StrCat("added_tokens_decoder['", it.key(), "']");
      int32_t id;
      if (!absl::SimpleAtoi(it.key(), &id) || id < 0 || id > tok::kMaxTokenId) {
        return absl::InvalidArgumentError(absl::StrCat(kWhere, ": field '", field, "': bad id"));
      }
      GLMQ_ASSIGN_OR_RETURN(std::string content,
                            GetString(it.value(), "content", absl::StrCat(kWhere, " ", field)));
      specials->push_back({content, id});
    }
  } else if (t->kind_ == "tiktoken") {
    int32_t id = t->bpe_.id_limit();
    for (const char* s : kGlm4Specials) specials->push_back({s, id++});
  }
  if (cfg.contains("chat_template") && cfg["chat_template"].is_string()) {
    t->chat_template_ = cfg["chat_template"].get<std::string>();
  }
  return absl::OkStatus();
}

absl::Status TokenizerBuilder::AddSpecials(const std::vector<tok::SpecialToken>& specials,
                                           Tokenizer* t) {
  for (const tok::SpecialToken& s : specials) {
    if (s.content.empty()) return absl::InvalidArgumentError("special token with empty content");
    if (!t->bpe_.TokenBytes(s.id).empty()) {
      return absl::InvalidArgumentError(absl::StrCat("special token '", s.content, "' id ", s.id,
                                                     " is also a regular token"));
    }
    auto [it, inserted] = t->specials_.emplace(s.content, s.id);
    if (!inserted && it->second != s.id) {
      return absl::InvalidArgumentError(absl::StrCat("special token '", s.content,
                                                     "' has two ids: ", it->second, ", ", s.id));
    }
    auto [jt, ins2] = t->special_by_id_.emplace(s.id, s.content);
    if (!ins2 && jt->second != s.content) {
      return absl::InvalidArgumentError(absl::StrCat("special id ", s.id, " names both '",
                                                     jt->second, "' and '", s.content, "'"));
    }
  }
  return absl::OkStatus();
}

absl::Status TokenizerBuilder::AddEos(const std::map<std::string, std::string>& files,
                                      const Json& cfg, const TokenizerOptions& options,
                                      Tokenizer* t) {
  std::vector<int32_t>& eos = t->eos_ids_;
  if (cfg.contains("eos_token") && !cfg["eos_token"].is_null()) {
    const Json& e = cfg["eos_token"];
    std::string name;
    if (e.is_string()) name = e.get<std::string>();
    else if (e.is_object() && e.contains("content") && e["content"].is_string())
      name = e["content"].get<std::string>();
    else return absl::InvalidArgumentError("tokenizer_config.json: field 'eos_token': bad value");
    const std::optional<int32_t> id = t->SpecialTokenId(name);
    if (!id) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tokenizer_config.json: field 'eos_token': '", name, "' is not a special token"));
    }
    eos.push_back(*id);
  }
  for (const char* name : {"generation_config.json", "config.json"}) {
    auto it = files.find(name);
    if (it == files.end()) continue;
    GLMQ_ASSIGN_OR_RETURN(Json j, ParseJson(it->second, name));
    if (!j.is_object() || !j.contains("eos_token_id") || j["eos_token_id"].is_null()) continue;
    GLMQ_ASSIGN_OR_RETURN(std::vector<int64_t> ids, GetIntOrIntList(j, "eos_token_id", name));
    for (int64_t id : ids) {
      if (id < 0 || id > tok::kMaxTokenId) {
        return absl::InvalidArgumentError(
            absl::StrCat(name, ": field 'eos_token_id': ", id, " is not a token id"));
      }
      eos.push_back(static_cast<int32_t>(id));
    }
  }
  for (int32_t id : options.extra_eos_ids) eos.push_back(id);
  std::sort(eos.begin(), eos.end());
  eos.erase(std::unique(eos.begin(), eos.end()), eos.end());
  return absl::OkStatus();
}

// ChatGLM4Tokenizer (tokenizer.model) prefixes [gMASK]<sop> (a
// tokenizer.json's post-processor says what it prefixes: LoadBpe).
void TokenizerBuilder::SetTiktokenPrefix(Tokenizer* t) {
  if (t->kind_ != "tiktoken") return;
  for (const char* s : {"[gMASK]", "<sop>"}) {
    if (std::optional<int32_t> id = t->SpecialTokenId(s)) t->prefix_ids_.push_back(*id);
  }
  if (t->prefix_ids_.size() != 2) t->prefix_ids_.clear();
}

// The template, parsed once; a template glmq cannot render is reported when
// a chat is asked for, so plain encoding still works.
void TokenizerBuilder::SetChatTemplate(const Json& cfg, Tokenizer* t) {
  std::vector<std::pair<std::string, std::string>> vars;
  for (const char* name : {"bos_token", "eos_token", "unk_token", "pad_token"}) {
    if (!cfg.contains(name)) continue;
    const Json& v = cfg[name];
    if (v.is_string()) vars.emplace_back(name, v.get<std::string>());
    else if (v.is_object() && v.contains("content") && v["content"].is_string())
      vars.emplace_back(name, v["content"].get<std::string>());
  }
  t->chat_ = ChatTemplate::Create(t->chat_template_, std::move(vars));
  if (!t->chat_.ok()) {
    t->chat_ = Annotate(t->chat_.status(), "tokenizer_config.json chat_template");
  }
}

absl::StatusOr<std::unique_ptr<Tokenizer>> TokenizerBuilder::Build(
    const std::map<std::string, std::string>& files, const TokenizerOptions& options) {
  std::unique_ptr<Tokenizer> t(new Tokenizer());
  std::vector<tok::SpecialToken> specials;
  GLMQ_RETURN_IF_ERROR(LoadBpe(files, t.get(), &specials));
  Json cfg = Json::object();
  if (auto it = files.find("tokenizer_config.json"); it != files.end()) {
    GLMQ_ASSIGN_OR_RETURN(cfg, ParseJson(it->second, "tokenizer_config.json"));
    if (!cfg.is_object()) return absl::InvalidArgumentError("tokenizer_config.json: not an object");
  }
  try {
    GLMQ_RETURN_IF_ERROR(LoadConfig(cfg, t.get(), &specials));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("tokenizer_config.json: ", e.what()));
  }
  // transformers' chat_template.jinja (newer checkpoints, GLM-4.1V's among
  // them) takes precedence over tokenizer_config.json's chat_template.
  if (auto it = files.find("chat_template.jinja"); it != files.end()) {
    t->chat_template_ = it->second;
  }
  GLMQ_RETURN_IF_ERROR(AddSpecials(specials, t.get()));
  GLMQ_RETURN_IF_ERROR(AddEos(files, cfg, options, t.get()));
  SetTiktokenPrefix(t.get());
  SetChatTemplate(cfg, t.get());
  int64_t limit = t->bpe_.id_limit();
  for (const auto& [content, id] : t->specials_) limit = std::max<int64_t>(limit, id + 1);
  t->vocab_size_ = limit;
  return t;
}

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromFiles(
    const std::map<std::string, std::string>& files, const TokenizerOptions& options) {
  return TokenizerBuilder::Build(files, options);
}

const std::vector<std::string>& Tokenizer::KnownFileNames() {
  static const std::vector<std::string> names = {"tokenizer.model", "tokenizer.json",
                                                 "tokenizer_config.json", "chat_template.jinja",
                                                 "generation_config.json", "config.json"};
  return names;
}

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromDir(const std::string& path,
                                                              const TokenizerOptions& options) {
  std::map<std::string, std::string> files;
  for (const std::string& name : KnownFileNames()) {
    const std::string file = absl::StrCat(path, "/", name);
    if (!FileExists(file)) continue;
    GLMQ_ASSIGN_OR_RETURN(files[name], ReadFileToString(file, absl::EndsWith(name, ".json") &&
                                                                   name != "tokenizer.json"
                                                               ? InputKind::kJson
                                                               : InputKind::kTokenizer));
  }
  auto t = FromFiles(files, options);
  if (!t.ok()) return Annotate(t.status(), path);
  return t;
}

}  // namespace glmq
