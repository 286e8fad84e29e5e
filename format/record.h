// Rewriting the metadata of an existing .glmq (`glmq eval --record`,
// `glmq plan --measure --record`) without touching its tensor data, and
// never leaving a damaged file (specs/format.md §7).
//
// Why not in place: the metadata sits at the end of the file and the header
// holds its offset, size and checksum and the file size. Every in-place
// update needs two writes that no file system makes atomic together (the
// metadata bytes or the file length, then the header); a crash between them
// leaves a header that does not match the file, i.e. an unreadable model.
// So the new file is built beside the old one: a reflink clone of the data
// section where the file system shares extents (no tensor byte is copied),
// else a kernel-side copy (copy_file_range); new metadata and header; fsync;
// rename onto the path. A failure at any step leaves the original as it was.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "schema/glmq.pb.h"

namespace glmq {

struct RewriteReport {
  bool reflinked = false;   // the data section was cloned, not copied
  uint64_t data_bytes = 0;  // bytes before the metadata (header + tensors)
  uint64_t old_metadata_bytes = 0;
  uint64_t new_metadata_bytes = 0;
  uint64_t new_metadata_xxh64 = 0;
  // "reflink clone: no tensor data copied" or "copied N bytes (...)".
  std::string Describe() const;
};

// Test hook: called after each step ("cloned", "written", "synced");
// an error stops the rewrite there, as a crash or a full disk would.
using RewriteFault = std::function<absl::Status(absl::string_view step)>;

// Opens `path` (all of GlmqFile::Open's checks), lets `edit` change the
// metadata, and replaces the file with one holding the edited metadata and
// the same bytes before it. `edit` may not change the tensor entries or the
// alignment (an error names the field). The header is rewritten with the
// new metadata's size and checksum; the result is re-opened and checked
// before the rename. Errors name the file.
absl::StatusOr<RewriteReport> RewriteGlmqMetadata(
    const std::string& path, const std::function<absl::Status(pb::ModelMetadata*)>& edit,
    const RewriteFault& fault = nullptr);

// Appends `result` to the file's evals (RewriteGlmqMetadata).
absl::StatusOr<RewriteReport> RecordEval(const std::string& path, const pb::EvalResult& result);
// Appends `measurement` to the file's vram section.
absl::StatusOr<RewriteReport> RecordVram(const std::string& path,
                                         const pb::VramMeasurement& measurement);

}  // namespace glmq
