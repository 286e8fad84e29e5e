// Files: read-only mmap, whole-file reads, and an output file that appears
// under its final name only when complete (temp file + fsync + rename).
#pragma once

#include "absl/strings/string_view.h"
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace glmq {

// A read-only memory map of a whole file. Not copyable; the mapping lives as
// long as the object. Thread-safe for concurrent reads.
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
  // Hints the kernel that [offset, offset+len) will be read sequentially.
  void AdviseSequential(uint64_t offset, uint64_t len) const;
  // Releases page cache residency of a range we are done with, so that
  // streaming a 20 GB file does not inflate our RSS.
  void DropRange(uint64_t offset, uint64_t len) const;

 private:
  MappedFile(std::string path, const uint8_t* data, uint64_t size)
      : path_(std::move(path)), data_(data), size_(size) {}
  std::string path_;
  const uint8_t* data_;
  uint64_t size_;
};

absl::StatusOr<std::string> ReadFileToString(const std::string& path);
absl::StatusOr<uint64_t> FileSize(const std::string& path);
bool FileExists(const std::string& path);

// Writes a file through "<path>.tmp.<pid>" and renames it onto `path` in
// Commit(). If the object dies without Commit() the temp file is removed, so
// a failed run never leaves a half-written output under the final name.
// Not thread-safe.
class AtomicOutputFile {
 public:
  static absl::StatusOr<std::unique_ptr<AtomicOutputFile>> Create(const std::string& path);
  ~AtomicOutputFile();
  AtomicOutputFile(const AtomicOutputFile&) = delete;
  AtomicOutputFile& operator=(const AtomicOutputFile&) = delete;

  absl::Status Write(const void* data, uint64_t size);
  absl::Status Write(absl::string_view s) { return Write(s.data(), s.size()); }
  // Writes at an absolute offset without moving the append position.
  absl::Status PWrite(const void* data, uint64_t size, uint64_t offset);
  // Appends zero bytes until the position is a multiple of `alignment`.
  absl::Status PadTo(uint64_t alignment);
  uint64_t position() const { return position_; }
  // Streaming mode for big outputs (off by default): every `window` bytes
  // written, start their writeback (sync_file_range), and once `lag` more
  // windows are written, wait for it and drop those pages from the page
  // cache (posix_fadvise DONTNEED). Dirty memory then stays under about
  // (lag + 1) * window instead of growing to the kernel's dirty limit, the
  // disk writes all along, and Commit()'s fsync has little left to do.
  // Measured on the dev VM: 3 GB of 64 MiB writes + fsync 0.23-0.66 GB/s
  // plain, 1.9-2.3 GB/s streaming (window 64 MiB, lag 4).
  void SetWriteBehind(uint64_t window, int lag);
  // fsync + rename onto the final path. The object is closed afterwards.
  absl::Status Commit();
  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_path_; }

 private:
  AtomicOutputFile(std::string path, std::string temp_path, int fd)
      : path_(std::move(path)), temp_path_(std::move(temp_path)), fd_(fd) {}
  std::string path_;
  std::string temp_path_;
  int fd_;
  void WriteBehind();
  uint64_t position_ = 0;
  bool committed_ = false;
  uint64_t wb_window_ = 0;   // 0: streaming mode off
  int wb_lag_ = 0;
  uint64_t wb_started_ = 0;  // writeback started for [0, wb_started_)
  uint64_t wb_dropped_ = 0;  // written back and dropped for [0, wb_dropped_)
};

// Writes `contents` to `path` atomically (temp file + rename).
absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents);

// True if `fd` (e.g. STDERR_FILENO) is a terminal: progress output only then.
bool IsTerminal(int fd);

}  // namespace glmq
