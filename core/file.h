// Files: read-only mmap and whole-file reads under the input policy
// (core/input.h), and the atomic output file of the output policy
// (core/output.h, included here for its many users).
#pragma once

#include "absl/strings/string_view.h"
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/input.h"
#include "core/output.h"

namespace glmq {

// A read-only memory map of a whole regular file (opened under the input
// policy, kind kMapped). Not copyable; the mapping lives as long as the
// object. The mapping is registered with core/bus_guard.h, so a truncation
// by another process while it is read gives an error naming the file, not a
// crash. Thread-safe for concurrent reads.
class MappedFile {
 public:
  static absl::StatusOr<std::unique_ptr<MappedFile>> Open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  absl::Span<const uint8_t> span() const { return {data_, size_}; }
  const std::string& path() const { return path_; }
  // The open descriptor of the mapped file (read-only; owned by this object).
  int fd() const { return fd_; }
  // Hints the kernel that [offset, offset+len) will be read sequentially.
  void AdviseSequential(uint64_t offset, uint64_t len) const;
  // Releases page cache residency of a range we are done with, so that
  // streaming a 20 GB file does not inflate our RSS.
  void DropRange(uint64_t offset, uint64_t len) const;
  // DataLoss if the file is now shorter than the mapping (another process
  // truncated it): call before reading a range that was not checked since.
  absl::Status CheckNotTruncated() const;
  // XXH64 of [offset, offset + len) of the mapping; DataLoss instead of a
  // crash if the pages vanish meanwhile (core/bus_guard.h GuardedRead).
  absl::StatusOr<uint64_t> GuardedXxHash64(uint64_t offset, uint64_t len) const;

 private:
  MappedFile(std::string path, const uint8_t* data, uint64_t size, int fd)
      : path_(std::move(path)), data_(data), size_(size), fd_(fd) {}
  std::string path_;
  const uint8_t* data_;
  uint64_t size_;
  int fd_;  // kept open for CheckNotTruncated
};

// Reads a whole regular file of at most InputKindTraits(kind).max_bytes.
absl::StatusOr<std::string> ReadFileToString(const std::string& path,
                                             InputKind kind = InputKind::kSmall);
absl::StatusOr<uint64_t> FileSize(const std::string& path);
bool FileExists(const std::string& path);

// True if `fd` (e.g. STDERR_FILENO) is a terminal: progress output only then.
bool IsTerminal(int fd);

}  // namespace glmq
