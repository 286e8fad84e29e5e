// GlmqWeightSource: the .glmq reader as a weight source.
#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "format/reader.h"
#include "runtime/weights.h"
#include "schema/hparams.h"
#include "schema/tensors.h"

namespace glmq {

absl::StatusOr<std::unique_ptr<GlmqWeightSource>> GlmqWeightSource::Open(
    const std::string& path, bool verify) {
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<GlmqFile> file, GlmqFile::Open(path));
  GLMQ_RETURN_IF_ERROR(Annotate(ValidateHParams(file->hparams()), path));
  if (verify) {
    GLMQ_ASSIGN_OR_RETURN(std::vector<ModelTensor> used,
                          ModelTensors(file->hparams(), TensorSet::kText));
    std::vector<std::string> names;
    for (const ModelTensor& t : used) {
      if (file->FindTensor(t.name) != nullptr) names.push_back(t.name);  // else: Model::Load says
      for (const CompanionDef& c : CompanionTable()) {  // kept columns of a linear
        const std::string name = CompanionName(t.name, c.role);
        if (!name.empty() && file->FindTensor(name) != nullptr) names.push_back(name);
      }
    }
    GLMQ_RETURN_IF_ERROR(file->VerifyTensorChecksums(names, kVerifyThreads));
  }
  return std::make_unique<GlmqWeightSource>(std::move(file));
}

GlmqWeightSource::GlmqWeightSource(std::unique_ptr<GlmqFile> file) : file_(std::move(file)) {}
GlmqWeightSource::~GlmqWeightSource() = default;

const pb::HParams& GlmqWeightSource::hparams() const { return file_->hparams(); }

std::string GlmqWeightSource::Describe() const { return file_->path(); }

absl::StatusOr<WeightView> GlmqWeightSource::Find(absl::string_view name) const {
  const pb::TensorEntry* e = file_->FindTensor(name);
  if (e == nullptr) {
    return absl::NotFoundError(absl::StrCat(file_->path(), ": no tensor '", name, "'"));
  }
  const absl::Span<const uint8_t> bytes = file_->TensorData(*e);
  return MakeWeightView(e->name(), e->encoding(), e->group_size(),
                        Shape(e->shape().begin(), e->shape().end()), bytes.data(), bytes.size());
}

}  // namespace glmq
