#include "plan/source.h"

#include <sys/stat.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/file.h"
#include "core/status.h"
#include "plan/schemes.h"
#include "convert/hf_config.h"
#include "format/reader.h"
#include "schema/hparams.h"

namespace glmq::plan {
namespace {

bool IsDirectory(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

absl::StatusOr<pb::HParams> FromConfig(const std::string& path) {
  return HParamsFromConfigFile(path);
}

absl::StatusOr<PlanSource> FromGlmq(const std::string& path) {
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<GlmqFile> file, GlmqFile::Open(path));
  GLMQ_RETURN_IF_ERROR(Annotate(ValidateHParams(file->hparams()), path));
  PlanSource src{path, "glmq", file->hparams(), std::nullopt, {}};
  const std::string preset = file->metadata().quant().preset();
  src.file_weights = SchemeWeights{absl::StrCat("file", preset.empty() ? "" : ":", preset),
                                   FileWeightBytes(file->metadata())};
  src.file_tensors.assign(file->metadata().tensors().begin(), file->metadata().tensors().end());
  return src;
}

}  // namespace

absl::StatusOr<PlanSource> LoadPlanSource(const std::string& path) {
  if (IsDirectory(path)) {
    const std::string config = path + "/config.json";
    if (!FileExists(config))
      return absl::NotFoundError(absl::StrCat(path, ": folder has no config.json"));
    GLMQ_ASSIGN_OR_RETURN(pb::HParams hp, FromConfig(config));
    return PlanSource{path, "hf-folder", std::move(hp), std::nullopt, {}};
  }
  if (!FileExists(path)) return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  if (absl::EndsWith(path, ".glmq")) return FromGlmq(path);
  GLMQ_ASSIGN_OR_RETURN(pb::HParams hp, FromConfig(path));
  return PlanSource{path, "config.json", std::move(hp), std::nullopt, {}};
}

}  // namespace glmq::plan
