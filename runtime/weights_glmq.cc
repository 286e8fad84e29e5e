// GlmqWeightSource: the .glmq reader as a weight source.
#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "format/reader.h"
#include "runtime/weights.h"

namespace glmq {

absl::StatusOr<std::unique_ptr<GlmqWeightSource>> GlmqWeightSource::Open(
    const std::string& path) {
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<GlmqFile> file, GlmqFile::Open(path));
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
