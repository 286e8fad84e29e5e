// Streaming writer of .glmq files (specs/format.md). Tensor bytes go to disk
// as they arrive; only the metadata (no tensor data) is held in memory, so
// memory does not grow with model size. The file appears under its final
// name only after Finish() succeeds.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/checksum.h"
#include "core/file.h"
#include "format/finite_check.h"
#include "schema/glmq.pb.h"

namespace glmq {

class GlmqWriter {
 public:
  // Opens the output under core/output.h's policy (a regular file or a new
  // path, not one of the process's inputs); nothing appears at `path` until
  // Finish().
  static absl::StatusOr<std::unique_ptr<GlmqWriter>> Create(const std::string& path);
  // Drops the unfinished output unless Finish() succeeded.
  ~GlmqWriter();

  // Everything but `tensors` and `tensor_alignment` is the caller's to fill,
  // at any time before Finish().
  pb::ModelMetadata& metadata() { return metadata_; }

  // Writes one whole tensor. `entry` needs name, role, layer, encoding,
  // group_size, shape (and source_names, quant_nmse); the writer sets
  // offset, size and xxh64. Names must be unique. A NaN or Inf value (or
  // quantized scale) is an error naming the tensor, row and column, and
  // the writer then refuses to finish (format/finite_check.h).
  absl::Status AddTensor(pb::TensorEntry entry, absl::Span<const uint8_t> data);

  // Chunked form of AddTensor for tensors produced piece by piece:
  // BeginTensor, any number of AppendTensorData, EndTensor.
  absl::Status BeginTensor(pb::TensorEntry entry);
  absl::Status AppendTensorData(absl::Span<const uint8_t> data);
  absl::Status EndTensor();

  // Writes the metadata and header, fsyncs and renames onto the final path.
  absl::Status Finish();

  uint64_t bytes_written() const;

  // Streaming mode of the output file (AtomicOutputFile::SetWriteBehind):
  // for multi-GB files written once, e.g. by glmq convert.
  void SetWriteBehind(uint64_t window, int lag) { out_->SetWriteBehind(window, lag); }

  // The path the file will have after Finish().
  const std::string& path() const { return out_->path(); }

 private:
  GlmqWriter(std::unique_ptr<AtomicOutputFile> out) : out_(std::move(out)) {}
  std::unique_ptr<AtomicOutputFile> out_;
  pb::ModelMetadata metadata_;
  bool in_tensor_ = false;
  pb::TensorEntry current_;
  std::optional<FiniteScan> current_scan_;  // of current_
  Xxh64 current_hash_;
  bool finished_ = false;
  // Error state and the tensor being written.
  absl::Status Fail(absl::Status s);  // remembers the first error, returns it
  absl::Status CheckUsable() const;
  absl::Status StartEntry(pb::TensorEntry entry, uint64_t* expected_bytes);
  absl::flat_hash_set<std::string> names_;
  uint64_t current_expected_ = 0;  // bytes the current tensor must have
  uint64_t current_written_ = 0;
  absl::Status error_;             // first write error; the writer is dead after it
};

}  // namespace glmq
