// Reader of .glmq files (specs/format.md): mmaps the file and, before any
// use, validates magic, version, metadata size and checksum, and every
// tensor's offset, size, alignment, shape/encoding consistency and overlaps.
// Each error names the file and the tensor or field. Thread-safe after Open.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/file.h"
#include "schema/glmq.pb.h"

namespace glmq {

class GlmqFile {
 public:
  static absl::StatusOr<std::unique_ptr<GlmqFile>> Open(const std::string& path);

  const std::string& path() const { return file_->path(); }
  uint32_t major_version() const { return major_; }
  uint32_t minor_version() const { return minor_; }
  const pb::ModelMetadata& metadata() const { return metadata_; }
  const pb::HParams& hparams() const { return metadata_.hparams(); }
  uint64_t metadata_xxh64() const { return metadata_xxh64_; }
  uint64_t file_size() const { return file_->size(); }

  // nullptr if there is no tensor of that name.
  const pb::TensorEntry* FindTensor(absl::string_view name) const;
  // The tensor's bytes inside the mapping (valid while this object lives).
  absl::Span<const uint8_t> TensorData(const pb::TensorEntry& entry) const;
  const MappedFile& mapped() const { return *file_; }

  // Recomputes every tensor checksum; the error names the first bad tensor.
  // `progress(done_bytes, total_bytes, tensor_name)` may be empty. Pages
  // are dropped from the mapping as they are done (a 20 GB file does not
  // stay resident).
  absl::Status VerifyChecksums(
      const std::function<void(uint64_t, uint64_t, absl::string_view)>& progress = {}) const;

  // Recomputes the checksums of `names` (every name must be a tensor of
  // this file), in file order, on up to `n_threads` threads, keeping the
  // pages (the caller is about to use them): verify-on-load. A file
  // truncated meanwhile is DataLoss naming it, not SIGBUS.
  absl::Status VerifyTensorChecksums(const std::vector<std::string>& names,
                                     int n_threads = 1) const;

  // Decompresses an embedded tokenizer file by name ("tokenizer.model").
  absl::StatusOr<std::string> EmbeddedFile(absl::string_view name) const;

  // Recomputes one tensor's checksum; the error names the tensor.
  absl::Status VerifyTensorChecksum(const pb::TensorEntry& entry) const;
  // The tensor data section [data_offset, data_offset + data_size).
  uint64_t data_offset() const { return data_offset_; }
  uint64_t data_size() const { return data_size_; }
  uint32_t tensor_alignment() const { return alignment_; }

 private:
  GlmqFile() = default;
  std::unique_ptr<MappedFile> file_;
  uint32_t major_ = 0, minor_ = 0;
  uint64_t metadata_xxh64_ = 0;
  pb::ModelMetadata metadata_;
  absl::flat_hash_map<std::string, int> by_name_;
  uint64_t data_offset_ = 0, data_size_ = 0;
  uint32_t alignment_ = 0;
  absl::Status ReadMetadata();     // header + metadata checks and parse
  absl::Status CheckTensors();     // every entry, offsets, overlaps, names
};

// Records the .glmq at `path` as the parent of a file made from it
// (quantize): Provenance.parent_file and parent_xxh64, its metadata checksum.
absl::Status RecordParent(const std::string& path, pb::Provenance* provenance);

}  // namespace glmq
