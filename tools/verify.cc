// glmq verify FILE
// Checks a .glmq file end to end: structure (header, metadata, every tensor's
// offset, size, alignment, overlaps; done by GlmqFile::Open), every tensor's
// XXH64 and every embedded file. Prints "OK: N tensors, X GiB verified" or
// fails naming the first bad tensor. Progress on a terminal only.
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/progress.h"
#include "core/status.h"
#include "format/reader.h"
#include "tools/command.h"

namespace glmq::tools {
namespace {

absl::Status RunVerify(const std::string& path) {
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<GlmqFile> file, GlmqFile::Open(path));
  uint64_t total = 0;
  for (const pb::TensorEntry& e : file->metadata().tensors()) total += e.size();
  Progress progress("verify", total, "B");
  GLMQ_RETURN_IF_ERROR(file->VerifyChecksums(
      [&](uint64_t done, uint64_t, absl::string_view name) { progress.Update(name, done); }));
  progress.Finish();
  for (const pb::EmbeddedFile& f : file->metadata().tokenizer().files()) {
    GLMQ_RETURN_IF_ERROR(file->EmbeddedFile(f.name()).status());
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
