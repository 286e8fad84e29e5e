#include "runtime/loaded_model.h"

#include <map>

#include "core/status.h"
#include "format/reader.h"
#include "runtime/cpu/cpu_backend.h"

namespace glmq {

absl::StatusOr<std::unique_ptr<Tokenizer>> EmbeddedTokenizer(const GlmqFile& file) {
  const pb::Tokenizer& tk = file.metadata().tokenizer();
  std::map<std::string, std::string> files;
  for (const pb::EmbeddedFile& f : tk.files()) {
    GLMQ_ASSIGN_OR_RETURN(files[f.name()], file.EmbeddedFile(f.name()));
  }
  TokenizerOptions topt;
  for (int64_t id : tk.eos_token_ids()) topt.extra_eos_ids.push_back(static_cast<int32_t>(id));
  for (int64_t id : file.hparams().eos_token_ids())
    topt.extra_eos_ids.push_back(static_cast<int32_t>(id));
  absl::StatusOr<std::unique_ptr<Tokenizer>> tok = Tokenizer::FromFiles(files, topt);
  if (!tok.ok()) return Annotate(tok.status(), file.path() + ": embedded tokenizer");
  return tok;
}

absl::StatusOr<LoadedModel> LoadGlmqModel(const std::string& path, int n_threads) {
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<GlmqWeightSource> src, GlmqWeightSource::Open(path));
  const GlmqFile& file = src->file();
  LoadedModel out;
  out.file = &file;
  GLMQ_ASSIGN_OR_RETURN(out.tokenizer, EmbeddedTokenizer(file));
  GLMQ_ASSIGN_OR_RETURN(out.model,
                        Model::Load(std::move(src), std::make_unique<CpuBackend>(n_threads)));
  return out;
}

}  // namespace glmq
