// tokenizer.json (HF tokenizers) → BpeModel in kMerges mode. Only what
// GLM-4 checkpoints use is accepted: no normalizer, Split(GLM-4 regex) +
// ByteLevel(use_regex=false) pre-tokenizer, byte-level BPE without
// byte_fallback / subword affixes, special added tokens. Anything else is an
// error naming the field, rather than silently different ids.
#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "runtime/tokenizer/loaders.h"

namespace glmq::tok {
namespace {

// o[key], or null when absent (const operator[] must not see a missing key).
const Json& Field(const Json& o, const char* key) {
  static const Json kNull;
  return o.is_object() && o.contains(key) ? o[key] : kNull;
}

absl::Status Unsupported(absl::string_view where, absl::string_view field,
                         absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat(where, ": field '", field, "': unsupported ", what));
}

absl::Status CheckPreTokenizer(const Json& root, absl::string_view where) {
  const Json* pre = &Field(root, "pre_tokenizer");
  if (pre->is_null()) return Unsupported(where, "pre_tokenizer", "null");
  std::vector<const Json*> steps;
  if (pre->is_object() && pre->value("type", "") == "Sequence" && Field(*pre, "pretokenizers").is_array()) {
    for (const Json& s : Field(*pre, "pretokenizers")) steps.push_back(&s);
  } else {
    steps.push_back(pre);
  }
  bool has_split = false, has_byte_level = false;
  for (const Json* s : steps) {
    if (!s->is_object()) return Unsupported(where, "pre_tokenizer", "entry (not an object)");
    const std::string type = s->value("type", "");
    if (type == "Split") {
      const Json& pat = Field(*s, "pattern");
      if (!pat.is_object() || !pat.contains("Regex") || !pat["Regex"].is_string() ||
          pat["Regex"].get<std::string>() != kGlm4Regex) {
        return Unsupported(where, "pre_tokenizer.pattern", "Split pattern (not GLM-4's regex)");
      }
      if (s->value("behavior", "") != "Isolated" || s->value("invert", false)) {
        return Unsupported(where, "pre_tokenizer.behavior", "Split behavior (not Isolated)");
      }
      has_split = true;
    } else if (type == "ByteLevel") {
      if (s->value("use_regex", true) || s->value("add_prefix_space", false)) {
        return Unsupported(where, "pre_tokenizer.ByteLevel", "use_regex/add_prefix_space");
      }
      has_byte_level = true;
    } else {
      return Unsupported(where, "pre_tokenizer.type", absl::StrCat("type '", type, "'"));
    }
  }
  if (!has_split || !has_byte_level) {
    return Unsupported(where, "pre_tokenizer", "sequence (need Split(GLM-4 regex) + ByteLevel)");
  }
  return absl::OkStatus();
}

absl::Status CheckModelFlags(const Json& model, absl::string_view where) {
  if (model.contains("type") && model["type"] != "BPE") {
    return Unsupported(where, "model.type", model["type"].dump());
  }
  if (model.value("byte_fallback", false)) return Unsupported(where, "model.byte_fallback", "true");
  for (const char* f : {"continuing_subword_prefix", "end_of_word_suffix", "dropout"}) {
    if (model.contains(f) && !model[f].is_null() && !(model[f].is_string() && model[f] == "")) {
      return Unsupported(where, absl::StrCat("model.", f), model[f].dump());
    }
  }
  return absl::OkStatus();
}

absl::Status AddMerges(const Json& merges, absl::string_view where, BpeModel* bpe) {
  if (!merges.is_array()) return Unsupported(where, "model.merges", "type (not a list)");
  for (size_t i = 0; i < merges.size(); ++i) {
    const Json& m = merges[i];
    const std::string field = absl::StrCat("model.merges[", i, "]");
    std::string left, right;
    if (m.is_string()) {
      const std::string s = m.get<std::string>();
      const size_t sp = s.find(' ');
      if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos) {
        return Unsupported(where, field, "merge string (want \"left right\")");
      }
      left = s.substr(0, sp);
      right = s.substr(sp + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      left = m[0].get<std::string>();
      right = m[1].get<std::string>();
    } else {
      return Unsupported(where, field, "merge (want \"a b\" or [a, b])");
    }
    const std::string fw = absl::StrCat(where, " ", field);
    GLMQ_ASSIGN_OR_RETURN(std::string lb, ByteLevelToBytes(left, fw));
    GLMQ_ASSIGN_OR_RETURN(std::string rb, ByteLevelToBytes(right, fw));
    GLMQ_RETURN_IF_ERROR(bpe->AddMerge(lb, rb, static_cast<int32_t>(i), fw));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<BpeModel> ParseHfTokenizerJson(const Json& root, absl::string_view where,
                                              std::vector<SpecialToken>* specials) {
  if (!root.is_object()) return Unsupported(where, "(root)", "type (not an object)");
  if (root.contains("normalizer") && !root["normalizer"].is_null()) {
    return Unsupported(where, "normalizer", root["normalizer"].dump());
  }
  GLMQ_RETURN_IF_ERROR(CheckPreTokenizer(root, where));
  if (!root.contains("model") || !root["model"].is_object()) {
    return Unsupported(where, "model", "value (missing or not an object)");
  }
  const Json& model = root["model"];
  GLMQ_RETURN_IF_ERROR(CheckModelFlags(model, where));
  if (!model.contains("vocab") || !model["vocab"].is_object()) {
    return Unsupported(where, "model.vocab", "value (missing or not an object)");
  }
  std::vector<std::pair<std::string, int32_t>> tokens;
  tokens.reserve(model["vocab"].size());
  for (auto it = model["vocab"].begin(); it != model["vocab"].end(); ++it) {
    GLMQ_ASSIGN_OR_RETURN(const int32_t id,
                          JsonTokenId(it.value(), where, absl::StrCat("model.vocab['", it.key(),
                                                                      "']")));
    GLMQ_ASSIGN_OR_RETURN(std::string bytes, ByteLevelToBytes(it.key(), where));
    tokens.emplace_back(std::move(bytes), id);
  }
  GLMQ_ASSIGN_OR_RETURN(BpeModel bpe,
                        BpeModel::Create(BpeModel::Mode::kMerges, std::move(tokens), where));
  bpe.set_whole_piece_lookup(model.value("ignore_merges", false));
  GLMQ_RETURN_IF_ERROR(AddMerges(model.contains("merges") ? model["merges"] : Json::array(),
                                 where, &bpe));
  if (root.contains("added_tokens") && !root["added_tokens"].is_null()) {
    const Json& added = root["added_tokens"];
    if (!added.is_array()) return Unsupported(where, "added_tokens", "type (not a list)");
    for (size_t i = 0; i < added.size(); ++i) {
      const Json& t = added[i];
      const std::string field = absl::StrCat("added_tokens[", i, "]");
      if (!t.is_object() || !t.contains("id") || !t["id"].is_number_integer() ||
          !t.contains("content") || !t["content"].is_string()) {
        return Unsupported(where, field, "entry (need int id and string content)");
      }
      if (!t.value("special", false)) return Unsupported(where, field, "non-special added token");
      GLMQ_ASSIGN_OR_RETURN(const int32_t id, JsonTokenId(t["id"], where, field));
      specials->push_back({t["content"].get<std::string>(), id});
    }
  }
  return bpe;
}

absl::StatusOr<std::vector<int32_t>> ParsePostProcessorPrefix(const Json& root,
                                                             absl::string_view where) {
  std::vector<int32_t> prefix;
  const Json& post = Field(root, "post_processor");
  std::vector<const Json*> steps;
  if (post.is_object() && post.value("type", "") == "Sequence" && Field(post, "processors").is_array()) {
    for (const Json& p : Field(post, "processors")) steps.push_back(&p);
  } else if (post.is_object()) {
    steps.push_back(&post);
  }
  for (const Json* p : steps) {
    if (!p->is_object() || p->value("type", "") != "TemplateProcessing") continue;
    const Json& single = Field(*p, "single");
    if (!single.is_array()) return Unsupported(where, "post_processor.single", "value (not a list)");
    for (const Json& item : single) {
      if (item.contains("Sequence")) break;
      const Json& tok = Field(Field(item, "SpecialToken"), "id");
      const Json& ids = Field(Field(Field(*p, "special_tokens"), tok.is_string() ? tok.get<std::string>().c_str() : ""), "ids");
      if (!tok.is_string() || !ids.is_array()) {
        return Unsupported(where, "post_processor.single", "entry (not a known SpecialToken)");
      }
      for (const Json& id : ids) {
        if (!id.is_number_integer()) return Unsupported(where, "post_processor.special_tokens", "id");
        prefix.push_back(id.get<int32_t>());
      }
    }
  }
  return prefix;
}

}  // namespace glmq::tok
