#include "convert/hf_metadata.h"

#include <algorithm>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/checksum.h"
#include "core/file.h"
#include "core/status.h"
#include "format/embedded.h"
#include "runtime/tokenizer/tokenizer.h"

namespace glmq {
namespace {

// Highest token id + 1 of a tiktoken file ("base64 rank" per line).
absl::StatusOr<int64_t> TiktokenSize(const std::string& text, const std::string& where) {
  int64_t max_id = -1;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    ++line_no;
    std::vector<absl::string_view> parts = absl::StrSplit(line, ' ');
    int64_t rank;
    if (parts.size() != 2 || !absl::SimpleAtoi(parts[1], &rank) || rank < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": line ", line_no, " is not '<base64> <rank>'"));
    }
    max_id = std::max(max_id, rank);
  }
  return max_id + 1;
}

// Highest token id + 1 of a tokenizer.json (model.vocab and added_tokens).
absl::StatusOr<int64_t> TokenizerJsonSize(const std::string& text, const std::string& where) {
  GLMQ_ASSIGN_OR_RETURN(Json j, ParseJson(text, where));
  int64_t max_id = -1;
  if (j.contains("model") && j["model"].contains("vocab") && j["model"]["vocab"].is_object()) {
    for (const auto& [k, v] : j["model"]["vocab"].items()) {
      if (v.is_number_integer()) max_id = std::max(max_id, v.get<int64_t>());
    }
  }
  if (j.contains("added_tokens") && j["added_tokens"].is_array()) {
    for (const Json& t : j["added_tokens"]) {
      if (t.contains("id") && t["id"].is_number_integer()) {
        max_id = std::max(max_id, t["id"].get<int64_t>());
      }
    }
  }
  if (max_id < 0) return absl::InvalidArgumentError("tokenizer.json: no vocabulary found");
  return max_id + 1;
}

// The tokenizer files load with the loader every later command uses
// (runtime/tokenizer): convert never embeds files that eval, generate or
// verify would refuse.
absl::Status CheckTokenizerLoads(const HfCheckpoint& ckpt) {
  std::map<std::string, std::string> files(ckpt.tokenizer_files().begin(),
                                           ckpt.tokenizer_files().end());
  if (files.empty()) return absl::OkStatus();
  auto t = Tokenizer::FromFiles(files);
  if (!t.ok()) return Annotate(t.status(), absl::StrCat(ckpt.dir(), ": tokenizer"));
  if ((*t)->vocab_size() > ckpt.hparams().padded_vocab_size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        ckpt.dir(), ": tokenizer has ", (*t)->vocab_size(), " tokens (specials included) but "
        "the embedding has only ", ckpt.hparams().padded_vocab_size(), " rows"));
  }
  return absl::OkStatus();
}

absl::Status FillTokenizer(const HfCheckpoint& ckpt, pb::ModelMetadata* md) {
  GLMQ_RETURN_IF_ERROR(CheckTokenizerLoads(ckpt));
  pb::Tokenizer* tok = md->mutable_tokenizer();
  int64_t vocab = 0;
  for (const auto& [name, bytes] : ckpt.tokenizer_files()) {
    GLMQ_ASSIGN_OR_RETURN(*tok->add_files(), CompressEmbeddedFile(name, bytes));
    if (name == "tokenizer.model") {
      tok->set_kind("tiktoken");
      GLMQ_ASSIGN_OR_RETURN(int64_t n, TiktokenSize(bytes, ckpt.dir() + "/" + name));
      vocab = std::max(vocab, n);
    } else if (name == "tokenizer.json") {
      if (tok->kind().empty()) tok->set_kind("hf-bpe");
      GLMQ_ASSIGN_OR_RETURN(int64_t n, TokenizerJsonSize(bytes, ckpt.dir() + "/" + name));
      vocab = std::max(vocab, n);
    } else if (name == "tokenizer_config.json") {
      const std::string where = ckpt.dir() + "/tokenizer_config.json";
      GLMQ_ASSIGN_OR_RETURN(Json tc, ParseJson(bytes, where));
      if (tc.contains("added_tokens_decoder") && tc["added_tokens_decoder"].is_object()) {
        for (const auto& [id, t] : tc["added_tokens_decoder"].items()) {
          int64_t v;
          if (!absl::SimpleAtoi(id, &v) || !t.contains("content") || !t["content"].is_string()) {
            return absl::InvalidArgumentError(
                absl::StrCat(where, ": bad added_tokens_decoder entry '", id, "'"));
          }
          (*tok->mutable_special_tokens())[t["content"].get<std::string>()] = v;
          vocab = std::max(vocab, v + 1);
        }
      }
      if (tc.contains("chat_template") && tc["chat_template"].is_string() &&
          tok->chat_template().empty()) {
        tok->set_chat_template(tc["chat_template"].get<std::string>());
      }
    } else if (name == "chat_template.jinja") {  // takes precedence, as in transformers
      tok->set_chat_template(bytes);
    }
  }
  // eos: generation_config.json if it lists them, else config.json.
  std::vector<int64_t> eos(md->hparams().eos_token_ids().begin(),
                           md->hparams().eos_token_ids().end());
  if (!ckpt.generation_config_json().empty()) {
    GLMQ_ASSIGN_OR_RETURN(Json g, ParseJson(ckpt.generation_config_json(), "generation_config.json"));
    if (g.contains("eos_token_id") && !g["eos_token_id"].is_null()) {
      GLMQ_ASSIGN_OR_RETURN(eos, GetIntOrIntList(g, "eos_token_id", "generation_config.json"));
    }
  }
  for (int64_t id : eos) {
    if (id < 0 || id >= md->hparams().padded_vocab_size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          ckpt.dir(), ": eos_token_id ", id, " is not a token id (the embedding has ",
          md->hparams().padded_vocab_size(), " rows)"));
    }
    tok->add_eos_token_ids(id);
  }
  md->mutable_hparams()->set_vocab_size(vocab);
  if (vocab > md->hparams().padded_vocab_size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        ckpt.dir(), ": tokenizer has ", vocab, " tokens but the embedding has only ",
        md->hparams().padded_vocab_size(), " rows"));
  }
  return absl::OkStatus();
}

void AddSourceFile(pb::Provenance* p, const std::string& name, absl::string_view bytes) {
  pb::SourceFile* f = p->add_source_files();
  f->set_name(name);
  f->set_size(bytes.size());
  f->set_xxh64(XxHash64(bytes));
}

}  // namespace

absl::StatusOr<pb::ModelMetadata> HfModelMetadata(const HfCheckpoint& ckpt) {
  pb::ModelMetadata md;
  *md.mutable_hparams() = ckpt.hparams();
  md.set_source_config_json(ckpt.config_json());
  md.set_source_generation_config_json(ckpt.generation_config_json());
  GLMQ_RETURN_IF_ERROR(FillTokenizer(ckpt, &md));
  pb::Provenance* p = md.mutable_provenance();
  p->set_source_dir(ckpt.dir());
  AddSourceFile(p, "config.json", ckpt.config_json());
  if (!ckpt.generation_config_json().empty()) {
    AddSourceFile(p, "generation_config.json", ckpt.generation_config_json());
  }
  const std::string index = ckpt.dir() + "/model.safetensors.index.json";
  if (FileExists(index)) {
    GLMQ_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(index, InputKind::kJson));
    AddSourceFile(p, "model.safetensors.index.json", bytes);
  }
  for (const auto& [name, bytes] : ckpt.tokenizer_files()) AddSourceFile(p, name, bytes);
  for (size_t i = 0; i < ckpt.shards().size(); ++i) {
    pb::SourceFile* f = p->add_source_files();
    f->set_name(ckpt.shard_names()[i]);
    f->set_size(ckpt.shards()[i]->mapped().size());
  }
  return md;
}

}  // namespace glmq
