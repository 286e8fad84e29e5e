#include "runtime/tokenizer_source.h"

#include <filesystem>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/file.h"
#include "core/status.h"

namespace glmq {
namespace {

// A tokenizer.model / tokenizer.json file and the config files beside it
// (not the other BPE file, which would win over the one asked for).
absl::StatusOr<std::unique_ptr<Tokenizer>> FromBpeFile(const std::string& path,
                                                       const TokenizerOptions& options) {
  namespace fs = std::filesystem;
  const std::string name = fs::path(path).filename().string();
  if (name != "tokenizer.model" && name != "tokenizer.json") {
    return absl::InvalidArgumentError(absl::StrCat(
        path,
        ": not a tokenizer (want an HF model folder, tokenizer.model, tokenizer.json or a "
        ".glmq)"));
  }
  std::map<std::string, std::string> files;
  GLMQ_ASSIGN_OR_RETURN(files[name], ReadFileToString(path, InputKind::kTokenizer));
  const fs::path dir = fs::path(path).parent_path();
  for (const char* extra : {"tokenizer_config.json", "generation_config.json", "config.json"}) {
    const std::string p = (dir / extra).string();
    if (FileExists(p)) {
      GLMQ_ASSIGN_OR_RETURN(files[extra], ReadFileToString(p, InputKind::kJson));
    }
  }
  return Tokenizer::FromFiles(files, options);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadEmbeddedTokenizer(const GlmqFile& file,
                                                                 TokenizerOptions options) {
  const pb::Tokenizer& meta = file.metadata().tokenizer();
  if (meta.files_size() == 0) {
    return absl::NotFoundError(
        absl::StrCat(file.path(),
                     " has no embedded tokenizer (converted from a folder without tokenizer "
                     "files, e.g. glmq synth output): pass --tokenizer DIR|FILE"));
  }
  std::map<std::string, std::string> files;
  for (const pb::EmbeddedFile& f : meta.files()) {
    GLMQ_ASSIGN_OR_RETURN(files[f.name()], file.EmbeddedFile(f.name()));
  }
  for (int64_t id : meta.eos_token_ids()) options.extra_eos_ids.push_back(static_cast<int32_t>(id));
  auto t = Tokenizer::FromFiles(files, options);
  if (!t.ok()) return Annotate(t.status(), file.path() + ": embedded tokenizer");
  return t;
}

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::string& path,
                                                         const TokenizerOptions& options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  absl::StatusOr<std::unique_ptr<Tokenizer>> t;
  if (fs::is_directory(path, ec)) {
    t = Tokenizer::FromDir(path, options);
  } else if (!fs::exists(path, ec)) {
    return absl::NotFoundError(absl::StrCat(path, ": no such file or folder"));
  } else if (absl::EndsWith(path, ".glmq")) {
    GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<GlmqFile> file, GlmqFile::Open(path));
    return LoadEmbeddedTokenizer(*file, options);
  } else {
    t = FromBpeFile(path, options);
  }
  if (!t.ok()) return Annotate(t.status(), path);
  return t;
}

absl::Status CheckTokenizerFitsModel(const Tokenizer& tok, const pb::HParams& hp,
                                     absl::string_view name) {
  if (tok.vocab_size() > hp.padded_vocab_size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, ": the tokenizer has ", tok.vocab_size(), " tokens but the model's embedding has ",
        hp.padded_vocab_size(), " rows (a tokenizer of another model?)"));
  }
  return absl::OkStatus();
}

}  // namespace glmq
