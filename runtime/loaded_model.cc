#include "runtime/loaded_model.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "format/reader.h"
#include "runtime/tokenizer_source.h"

namespace glmq {

absl::Status CheckThreadCount(int n, absl::string_view flag) {
  if (n >= 0 && n <= kMaxThreads) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(flag, " ", n, " is not within 0..", kMaxThreads,
                                                 " (0: all cores)"));
}

absl::StatusOr<LoadedModel> LoadGlmqModel(const std::string& path, int n_threads,
                                          const std::string& tokenizer,
                                          const DeviceSpec& device, bool verify) {
  GLMQ_RETURN_IF_ERROR(CheckThreadCount(n_threads));
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<GlmqWeightSource> src,
                        GlmqWeightSource::Open(path, verify));
  const GlmqFile& file = src->file();
  TokenizerOptions topt;
  for (int64_t id : file.metadata().tokenizer().eos_token_ids()) {
    if (id < 0 || id >= file.hparams().padded_vocab_size()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": tokenizer eos id ", id,
                                                     " is outside the vocabulary of ",
                                                     file.hparams().padded_vocab_size()));
    }
  }
  for (int64_t id : file.hparams().eos_token_ids()) {
    topt.extra_eos_ids.push_back(static_cast<int32_t>(id));
  }
  LoadedModel out;
  out.file = &file;
  if (tokenizer.empty()) {
    GLMQ_ASSIGN_OR_RETURN(out.tokenizer, LoadEmbeddedTokenizer(file, topt));
  } else {
    GLMQ_ASSIGN_OR_RETURN(out.tokenizer, LoadTokenizer(tokenizer, topt));
    GLMQ_RETURN_IF_ERROR(CheckTokenizerFitsModel(*out.tokenizer, file.hparams(), tokenizer));
  }
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<Backend> backend, MakeBackend(device, n_threads));
  GLMQ_ASSIGN_OR_RETURN(out.model, Model::Load(std::move(src), std::move(backend)));
  return out;
}

}  // namespace glmq
