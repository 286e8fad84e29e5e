// glmq verify FILE
// Checks a .glmq file end to end: structure (header, metadata, every tensor's
// offset, size, alignment, overlaps; done by GlmqFile::Open), the
// hyperparameters and the tensor list against each other (format/
// model_check.h: every tensor the model needs, with its shape, and no
// other), every tensor's XXH64, every embedded file, and the embedded
// tokenizer by loading it as eval and generate do. Prints "OK: N tensors,
// X GiB verified" or fails naming the first bad tensor or field. Progress
// on a terminal only.
#include <cstdio>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/progress.h"
#include "core/status.h"
#include "format/model_check.h"
#include "format/reader.h"
#include "runtime/tokenizer/tokenizer.h"
#include "tools/command.h"

namespace glmq::tools {
namespace {

absl::Status RunVerify(const std::string& path) {
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<GlmqFile> file, GlmqFile::Open(path));
  // Integrity first (a damaged byte is named as such), then structure: the
  // tensors against the hparams, the embedded tokenizer loaded.
  uint64_t total = 0;
  for (const pb::TensorEntry& e : file->metadata().tensors()) total += e.size();
  Progress progress("verify", total, "B");
  GLMQ_RETURN_IF_ERROR(file->VerifyChecksums(
      [&](uint64_t done, uint64_t, absl::string_view name) { progress.Update(name, done); }));
  progress.Finish();
  std::map<std::string, std::string> files;
  for (const pb::EmbeddedFile& f : file->metadata().tokenizer().files()) {
    GLMQ_ASSIGN_OR_RETURN(files[f.name()], file->EmbeddedFile(f.name()));
  }
  GLMQ_RETURN_IF_ERROR(CheckTensorsMatchHParams(file->metadata(), path));
  if (!files.empty()) {
    auto tok = Tokenizer::FromFiles(files);
    if (!tok.ok()) return Annotate(tok.status(), path + ": embedded tokenizer");
    if ((*tok)->vocab_size() > file->hparams().padded_vocab_size())
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": embedded tokenizer has ", (*tok)->vocab_size(), " tokens, the embedding ",
          file->hparams().padded_vocab_size(), " rows"));
  }
  const double seconds = progress.elapsed_seconds();
  std::printf("OK: %d tensors, %s verified (%d embedded files) in %.2f s, %.2f GB/s\n",
              file->metadata().tensors_size(), FormatBytes(total).c_str(),
              file->metadata().tokenizer().files_size(), seconds,
              seconds > 0 ? total / 1e9 / seconds : 0.0);
  return absl::OkStatus();
}

RunFn SetupVerify(CLI::App* sub) {
  auto path = std::make_shared<std::string>();
  sub->add_option("file", *path, ".glmq file")->required();
  return [path]() { return RunVerify(*path); };
}

}  // namespace

GLMQ_COMMAND(verify, "verify", "Check a .glmq file's structure and every checksum", SetupVerify);

}  // namespace glmq::tools
