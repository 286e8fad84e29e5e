#include "format/writer.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "format/entry_check.h"
#include "format/header.h"

namespace glmq {

absl::StatusOr<std::unique_ptr<GlmqWriter>> GlmqWriter::Create(const std::string& path) {
  GLMQ_ASSIGN_OR_RETURN(auto out, AtomicOutputFile::Create(path));
  std::unique_ptr<GlmqWriter> w(new GlmqWriter(std::move(out)));
  // Placeholder header (patched in Finish) padded up to the first tensor.
  uint8_t header[kGlmqHeaderSize] = {};
  GLMQ_RETURN_IF_ERROR(w->out_->Write(header, sizeof(header)));
  GLMQ_RETURN_IF_ERROR(w->out_->PadTo(kGlmqTensorAlignment));
  return w;
}

GlmqWriter::~GlmqWriter() = default;  // AtomicOutputFile removes the temp file

uint64_t GlmqWriter::bytes_written() const { return out_->position(); }

absl::Status GlmqWriter::Fail(absl::Status s) {
  if (error_.ok()) error_ = s;
  return s;
}

absl::Status GlmqWriter::CheckUsable() const {
  if (finished_)
    return absl::FailedPreconditionError(absl::StrCat(out_->path(), ": writer already finished"));
  if (!error_.ok())
    return absl::FailedPreconditionError(
        absl::StrCat(out_->path(), ": writer stopped after an earlier error: ", error_.message()));
  return absl::OkStatus();
}

absl::Status GlmqWriter::StartEntry(pb::TensorEntry entry, uint64_t* expected_bytes) {
  GLMQ_RETURN_IF_ERROR(CheckUsable());
  if (in_tensor_)
    return absl::FailedPreconditionError(absl::StrCat(out_->path(), ": tensor '", entry.name(),
                                                      "' started while tensor '",
                                                      current_.name(), "' is still open"));
  GLMQ_ASSIGN_OR_RETURN(*expected_bytes, CheckTensorEntry(entry, out_->path()));
  if (names_.contains(entry.name()))
    return absl::AlreadyExistsError(
        absl::StrCat(out_->path(), ": tensor '", entry.name(), "' written twice"));
  absl::Status s = out_->PadTo(kGlmqTensorAlignment);
  if (!s.ok()) return Fail(s);
  entry.set_offset(out_->position());
  entry.set_size(0);
  entry.set_xxh64(0);
  current_ = std::move(entry);
  current_scan_.emplace(current_);
  current_hash_ = Xxh64();
  current_expected_ = *expected_bytes;
  current_written_ = 0;
  in_tensor_ = true;
  return absl::OkStatus();
}

absl::Status GlmqWriter::BeginTensor(pb::TensorEntry entry) {
  uint64_t expected = 0;
  return StartEntry(std::move(entry), &expected);
}

absl::Status GlmqWriter::AppendTensorData(absl::Span<const uint8_t> data) {
  GLMQ_RETURN_IF_ERROR(CheckUsable());
  if (!in_tensor_)
    return absl::FailedPreconditionError(
        absl::StrCat(out_->path(), ": AppendTensorData without BeginTensor"));
  if (data.size() > current_expected_ - current_written_)
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        out_->path(), ": tensor '", current_.name(), "': more data than its ",
        current_expected_, " bytes (encoding, group size and shape decide the size)")));
  if (absl::Status f = current_scan_->Feed(data); !f.ok()) return Fail(Annotate(f, out_->path()));
  absl::Status s = out_->Write(data.data(), data.size());
  if (!s.ok()) return Fail(Annotate(s, absl::StrCat("tensor '", current_.name(), "'")));
  current_hash_.Update(data.data(), data.size());
  current_written_ += data.size();
  return absl::OkStatus();
}

absl::Status GlmqWriter::EndTensor() {
  GLMQ_RETURN_IF_ERROR(CheckUsable());
  if (!in_tensor_)
    return absl::FailedPreconditionError(
        absl::StrCat(out_->path(), ": EndTensor without BeginTensor"));
  in_tensor_ = false;
  if (current_written_ != current_expected_)
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        out_->path(), ": tensor '", current_.name(), "' got ", current_written_,
        " bytes, its encoding, group size and shape need ", current_expected_)));
  current_.set_size(current_written_);
  current_.set_xxh64(current_hash_.Digest());
  names_.insert(current_.name());
  current_scan_.reset();
  *metadata_.add_tensors() = std::move(current_);
  current_ = pb::TensorEntry();
  return absl::OkStatus();
}

absl::Status GlmqWriter::AddTensor(pb::TensorEntry entry, absl::Span<const uint8_t> data) {
  uint64_t expected = 0;
  const std::string name = entry.name();
  GLMQ_RETURN_IF_ERROR(StartEntry(std::move(entry), &expected));
  if (data.size() != expected) {
    in_tensor_ = false;  // nothing was written; the writer stays usable
    return absl::InvalidArgumentError(
        absl::StrCat(out_->path(), ": tensor '", name, "' has ", data.size(),
                     " bytes, its encoding, group size and shape need ", expected));
  }
  GLMQ_RETURN_IF_ERROR(AppendTensorData(data));
  return EndTensor();
}

absl::Status GlmqWriter::Finish() {
  GLMQ_RETURN_IF_ERROR(CheckUsable());
  if (in_tensor_)
    return absl::FailedPreconditionError(absl::StrCat(
        out_->path(), ": Finish while tensor '", current_.name(), "' is still open"));
  GlmqHeader h;
  h.data_offset = kGlmqTensorAlignment;
  h.data_size = out_->position() - h.data_offset;
  h.tensor_alignment = kGlmqTensorAlignment;
  metadata_.set_tensor_alignment(kGlmqTensorAlignment);
  std::string meta;
  if (!metadata_.SerializeToString(&meta))
    return Fail(absl::InternalError(absl::StrCat(out_->path(), ": cannot serialize metadata")));
  if (meta.size() > kGlmqMaxMetadataBytes)
    return Fail(absl::InvalidArgumentError(
        absl::StrCat(out_->path(), ": metadata is ", meta.size(), " bytes, over the limit of ",
                     kGlmqMaxMetadataBytes)));
  h.metadata_offset = out_->position();
  h.metadata_size = meta.size();
  h.metadata_xxh64 = XxHash64(meta);
  h.file_size = h.metadata_offset + h.metadata_size;
  absl::Status s = out_->Write(meta);
  uint8_t header[kGlmqHeaderSize];
  EncodeGlmqHeader(h, header);
  if (s.ok()) s = out_->PWrite(header, sizeof(header), 0);
  if (s.ok()) s = out_->Commit();
  if (!s.ok()) return Fail(s);
  finished_ = true;
  return absl::OkStatus();
}

}  // namespace glmq
