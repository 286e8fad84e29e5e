#include "format/reader.h"

#include <algorithm>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/bus_guard.h"
#include "core/checksum.h"
#include "core/status.h"
#include "format/embedded.h"
#include "format/entry_check.h"
#include "format/finite_check.h"
#include "format/header.h"

namespace glmq {

absl::StatusOr<std::unique_ptr<GlmqFile>> GlmqFile::Open(const std::string& path) {
  std::unique_ptr<GlmqFile> f(new GlmqFile());
  GLMQ_ASSIGN_OR_RETURN(f->file_, MappedFile::Open(path));
  GLMQ_RETURN_IF_ERROR(f->ReadMetadata());
  GLMQ_RETURN_IF_ERROR(f->CheckTensors());
  return f;
}

absl::Status GlmqFile::ReadMetadata() {
  const std::string& p = file_->path();
  const uint64_t size = file_->size();
  GLMQ_ASSIGN_OR_RETURN(GlmqHeader h, DecodeGlmqHeader(file_->span(), p));
  major_ = h.major;
  minor_ = h.minor;
  alignment_ = h.tensor_alignment;
  auto bad = [&](absl::string_view field, uint64_t value, absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat(p, ": header field '", field, "' is ", value, " (", why, ")"));
  };
  if (h.file_size != size)
    return absl::DataLossError(absl::StrCat(p, ": file is ", size, " bytes, header says ",
                                            h.file_size, " (truncated or extended?)"));
  if (h.data_offset < kGlmqHeaderSize || h.data_offset % alignment_ != 0 || h.data_offset > size)
    return bad("data_offset", h.data_offset, "must be aligned, after the header, in the file");
  if (h.data_size > size - h.data_offset)
    return bad("data_size", h.data_size, absl::StrCat("data section runs past the end, file is ",
                                                      size, " bytes"));
  const uint64_t data_end = h.data_offset + h.data_size;
  if (h.metadata_offset < data_end || h.metadata_offset > size)
    return bad("metadata_offset", h.metadata_offset,
               absl::StrCat("must lie between the data section end ", data_end,
                            " and the file end ", size));
  if (h.metadata_size > kGlmqMaxMetadataBytes)
    return bad("metadata_size", h.metadata_size,
               absl::StrCat("over the limit of ", kGlmqMaxMetadataBytes));
  if (h.metadata_size > size - h.metadata_offset)
    return bad("metadata_size", h.metadata_size,
               absl::StrCat("metadata runs past the end of the ", size, "-byte file"));
  data_offset_ = h.data_offset;
  data_size_ = h.data_size;
  const uint8_t* meta = file_->data() + h.metadata_offset;
  metadata_xxh64_ = XxHash64(meta, h.metadata_size);
  if (metadata_xxh64_ != h.metadata_xxh64)
    return absl::DataLossError(absl::StrCat(p, ": metadata checksum mismatch (stored ",
                                            HexU64(h.metadata_xxh64), ", computed ",
                                            HexU64(metadata_xxh64_), ")"));
  // Unknown fields (a newer minor version) are kept, not rejected.
  if (!metadata_.ParseFromArray(meta, static_cast<int>(h.metadata_size)))
    return absl::DataLossError(absl::StrCat(p, ": metadata is not a valid ModelMetadata message"));
  if (metadata_.tensor_alignment() != alignment_)
    return absl::InvalidArgumentError(absl::StrCat(
        p, ": metadata field 'tensor_alignment' is ", metadata_.tensor_alignment(),
        ", header says ", alignment_));
  return absl::OkStatus();
}

absl::Status GlmqFile::CheckTensors() {
  const std::string& p = file_->path();
  const uint64_t data_end = data_offset_ + data_size_;
  std::vector<int> order;
  order.reserve(metadata_.tensors_size());
  for (int i = 0; i < metadata_.tensors_size(); ++i) {
    const pb::TensorEntry& e = metadata_.tensors(i);
    GLMQ_ASSIGN_OR_RETURN(const uint64_t expected, CheckTensorEntry(e, p));
    const std::string prefix = absl::StrCat(p, ": tensor '", e.name(), "': ");
    if (e.size() != expected)
      return absl::InvalidArgumentError(absl::StrCat(
          prefix, "size is ", e.size(), " bytes, its encoding, group size and shape need ",
          expected));
    if (e.offset() < data_offset_ || e.offset() > data_end || e.size() > data_end - e.offset())
      return absl::InvalidArgumentError(absl::StrCat(
          prefix, "bytes [", e.offset(), ", +", e.size(), ") lie outside the data section [",
          data_offset_, ", ", data_end, ")"));
    if (e.offset() % alignment_ != 0)
      return absl::InvalidArgumentError(absl::StrCat(prefix, "offset ", e.offset(),
                                                     " is not a multiple of the alignment ",
                                                     alignment_));
    if (!by_name_.emplace(e.name(), i).second)
      return absl::InvalidArgumentError(
          absl::StrCat(p, ": tensor name '", e.name(), "' appears twice"));
    order.push_back(i);
  }
  std::sort(order.begin(), order.end(), [&](int a, int b) {
    return metadata_.tensors(a).offset() < metadata_.tensors(b).offset();
  });
  for (size_t k = 1; k < order.size(); ++k) {
    const pb::TensorEntry& prev = metadata_.tensors(order[k - 1]);
    const pb::TensorEntry& cur = metadata_.tensors(order[k]);
    if (prev.offset() + prev.size() > cur.offset())
      return absl::InvalidArgumentError(
          absl::StrCat(p, ": tensors '", prev.name(), "' [", prev.offset(), ", +", prev.size(),
                       ") and '", cur.name(), "' [", cur.offset(), ", +", cur.size(),
                       ") overlap"));
  }
  return absl::OkStatus();
}

const pb::TensorEntry* GlmqFile::FindTensor(absl::string_view name) const {
  auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? nullptr : &metadata_.tensors(it->second);
}

absl::Span<const uint8_t> GlmqFile::TensorData(const pb::TensorEntry& entry) const {
  // Entries of this file were bounds-checked in Open; anything else gets an
  // empty span rather than memory outside the mapping.
  if (entry.offset() > file_->size() || entry.size() > file_->size() - entry.offset()) return {};
  return {file_->data() + entry.offset(), entry.size()};
}

namespace {
struct ScanJob {
  FiniteScan scan;
  absl::Span<const uint8_t> data;
  absl::Status status;
};
// Under GuardedRead: the loops over the mapped bytes own nothing (an OK
// status holds no memory; an error is built after the bytes are read).
void ScanTensor(void* arg) {
  auto* j = static_cast<ScanJob*>(arg);
  j->status = j->scan.Feed(j->data);
}
}  // namespace

absl::Status GlmqFile::VerifyTensorChecksum(const pb::TensorEntry& entry) const {
  if (TensorData(entry).size() != entry.size())
    return absl::OutOfRangeError(
        absl::StrCat(path(), ": tensor '", entry.name(), "' lies outside the file"));
  GLMQ_ASSIGN_OR_RETURN(const uint64_t h, file_->GuardedXxHash64(entry.offset(), entry.size()));
  if (h != entry.xxh64())
    return absl::DataLossError(absl::StrCat(path(), ": tensor '", entry.name(),
                                            "': checksum mismatch (stored ", HexU64(entry.xxh64()),
                                            ", computed ", HexU64(h), ")"));
  // A matching checksum proves the bytes are the writer's, not that the
  // writer was glmq: the writer's own scan (finite_check.h) once more, so a
  // file made elsewhere cannot bring NaN/Inf or a q8 code -128 to the kernels.
  ScanJob job{FiniteScan(entry), TensorData(entry), absl::OkStatus()};
  GLMQ_RETURN_IF_ERROR(GuardedRead(ScanTensor, &job));
  if (!job.status.ok())
    return absl::DataLossError(absl::StrCat(path(), ": ", job.status.message()));
  return absl::OkStatus();
}

absl::Status GlmqFile::VerifyChecksums(
    const std::function<void(uint64_t, uint64_t, absl::string_view)>& progress) const {
  std::vector<const pb::TensorEntry*> order;
  uint64_t total = 0;
  for (const pb::TensorEntry& e : metadata_.tensors()) {
    order.push_back(&e);
    total += e.size();
  }
  // File order, so the disk reads sequentially.
  std::sort(order.begin(), order.end(), [](const pb::TensorEntry* a, const pb::TensorEntry* b) {
    return a->offset() < b->offset();
  });
  file_->AdviseSequential(data_offset_, data_size_);
  uint64_t done = 0;
  for (const pb::TensorEntry* e : order) {
    if (progress) progress(done, total, e->name());
    GLMQ_RETURN_IF_ERROR(VerifyTensorChecksum(*e));
    // Done with these pages: keep the page cache from holding the whole model.
    file_->DropRange(e->offset(), e->size());
    done += e->size();
  }
  if (progress) progress(done, total, "");
  return absl::OkStatus();
}

absl::Status GlmqFile::VerifyTensorChecksums(const std::vector<std::string>& names,
                                             int n_threads) const {
  std::vector<const pb::TensorEntry*> order;
  for (const std::string& name : names) {
    const pb::TensorEntry* e = FindTensor(name);
    if (e == nullptr)
      return absl::NotFoundError(absl::StrCat(path(), ": no tensor '", name, "'"));
    order.push_back(e);
  }
  std::sort(order.begin(), order.end(), [](const pb::TensorEntry* a, const pb::TensorEntry* b) {
    return a->offset() < b->offset();
  });
  file_->AdviseSequential(data_offset_, data_size_);
  // Thread t takes tensors t, t + n, ...: all threads move through the file
  // together, so the reads stay close to sequential.
  const int n = std::max(1, std::min<int>(n_threads, static_cast<int>(order.size())));
  std::vector<absl::Status> status(n);
  auto work = [&](int t) {
    for (size_t i = t; i < order.size() && status[t].ok(); i += n)
      status[t] = VerifyTensorChecksum(*order[i]);
  };
  std::vector<std::thread> threads;
  for (int t = 1; t < n; ++t) threads.emplace_back(work, t);
  work(0);
  for (std::thread& th : threads) th.join();
  for (const absl::Status& s : status) GLMQ_RETURN_IF_ERROR(s);
  return absl::OkStatus();
}

absl::StatusOr<std::string> GlmqFile::EmbeddedFile(absl::string_view name) const {
  for (const pb::EmbeddedFile& f : metadata_.tokenizer().files())
    if (f.name() == name) return DecompressEmbeddedFile(f, path());
  return absl::NotFoundError(
      absl::StrCat(path(), ": no embedded file '", name, "' in the tokenizer section"));
}

absl::Status RecordParent(const std::string& path, pb::Provenance* provenance) {
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<GlmqFile> parent, GlmqFile::Open(path));
  provenance->set_parent_file(path);
  provenance->set_parent_xxh64(parent->metadata_xxh64());
  return absl::OkStatus();
}

}  // namespace glmq
