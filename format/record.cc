#include "format/record.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "core/checksum.h"
#include "core/output.h"
#include "core/status.h"
#include "format/header.h"
#include "format/reader.h"

namespace glmq {
namespace {

// The edit may add evidence, never move or change a tensor.
absl::Status CheckSameTensors(const pb::ModelMetadata& before, const pb::ModelMetadata& after,
                              const std::string& path) {
  if (after.tensor_alignment() != before.tensor_alignment())
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": a metadata rewrite may not change 'tensor_alignment'"));
  if (after.tensors_size() != before.tensors_size())
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": a metadata rewrite may not add or remove 'tensors'"));
  for (int i = 0; i < before.tensors_size(); ++i) {
    if (after.tensors(i).SerializeAsString() != before.tensors(i).SerializeAsString())
      return absl::InvalidArgumentError(absl::StrCat(path,
                                                     ": a metadata rewrite may not change "
                                                     "tensor '",
                                                     before.tensors(i).name(), "'"));
  }
  return absl::OkStatus();
}

absl::Status Step(const RewriteFault& fault, absl::string_view step) {
  return fault ? fault(step) : absl::OkStatus();
}

}  // namespace

std::string RewriteReport::Describe() const {
  if (reflinked)
    return absl::StrCat("metadata rewritten (", old_metadata_bytes, " -> ", new_metadata_bytes,
                        " bytes) on a reflink clone: no tensor data copied");
  return absl::StrCat("metadata rewritten (", old_metadata_bytes, " -> ", new_metadata_bytes,
                      " bytes); this file system has no reflink, so the ", data_bytes,
                      " bytes before the metadata were copied (in the kernel) to a new file "
                      "that replaced the old one: an in-place update cannot be crash-safe "
                      "(specs/format.md section 7)");
}

absl::StatusOr<RewriteReport> RewriteGlmqMetadata(
    const std::string& path, const std::function<absl::Status(pb::ModelMetadata*)>& edit,
    const RewriteFault& fault) {
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<GlmqFile> file, GlmqFile::Open(path));
  GLMQ_ASSIGN_OR_RETURN(GlmqHeader h, DecodeGlmqHeader(file->mapped().span(), path));
  pb::ModelMetadata meta = file->metadata();
  GLMQ_RETURN_IF_ERROR(edit(&meta));
  GLMQ_RETURN_IF_ERROR(CheckSameTensors(file->metadata(), meta, path));
  std::string bytes;
  if (!meta.SerializeToString(&bytes))
    return absl::InternalError(absl::StrCat(path, ": cannot serialize the new metadata"));
  if (bytes.size() > kGlmqMaxMetadataBytes)
    return absl::InvalidArgumentError(absl::StrCat(path, ": new metadata is ", bytes.size(),
                                                   " bytes, over the limit of ",
                                                   kGlmqMaxMetadataBytes));
  RewriteReport report;
  report.data_bytes = h.metadata_offset;
  report.old_metadata_bytes = h.metadata_size;
  report.new_metadata_bytes = bytes.size();
  report.new_metadata_xxh64 = XxHash64(bytes);
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<AtomicOutputFile> out,
                        AtomicOutputFile::CreateReplacing(path));
  GLMQ_RETURN_IF_ERROR(out->CloneFrom(file->mapped().fd(), h.metadata_offset, &report.reflinked));
  GLMQ_RETURN_IF_ERROR(Step(fault, "cloned"));
  GLMQ_RETURN_IF_ERROR(out->Write(bytes));
  h.metadata_size = bytes.size();
  h.metadata_xxh64 = report.new_metadata_xxh64;
  h.file_size = h.metadata_offset + h.metadata_size;
  uint8_t header[kGlmqHeaderSize];
  EncodeGlmqHeader(h, header);
  GLMQ_RETURN_IF_ERROR(out->PWrite(header, sizeof(header), 0));
  GLMQ_RETURN_IF_ERROR(Step(fault, "written"));
  GLMQ_RETURN_IF_ERROR(out->Commit());  // fsync, rename, fsync of the folder
  file.reset();
  // The renamed file must open as the new one (header, metadata, entries).
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<GlmqFile> check, GlmqFile::Open(path));
  if (check->metadata_xxh64() != report.new_metadata_xxh64)
    return absl::DataLossError(
        absl::StrCat(path, ": changed by another process while its metadata was rewritten"));
  return report;
}

absl::StatusOr<RewriteReport> RecordEval(const std::string& path, const pb::EvalResult& result) {
  return RewriteGlmqMetadata(path, [&](pb::ModelMetadata* m) {
    *m->add_evals() = result;
    return absl::OkStatus();
  });
}

absl::StatusOr<RewriteReport> RecordVram(const std::string& path,
                                         const pb::VramMeasurement& measurement) {
  return RewriteGlmqMetadata(path, [&](pb::ModelMetadata* m) {
    *m->add_vram() = measurement;
    return absl::OkStatus();
  });
}

}  // namespace glmq
