// Streaming big inputs without the page cache: O_DIRECT reads of whole
// aligned blocks straight into an aligned buffer, so a 19 GB checkpoint
// goes from the disk to the quantizer without the kernel copying it
// through the page cache (cold `glmq quantize` of GLM-4-9B spent 17-24 s of
// system time in pread copies) and without evicting everybody else's cached
// pages. Falls back to pread where the file system refuses O_DIRECT.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace glmq {

// A growable byte buffer whose data() is DirectReader::kAlign-aligned (what
// O_DIRECT needs). Movable, not copyable. Not thread-safe.
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  ~AlignedBuffer();
  AlignedBuffer(AlignedBuffer&& o) noexcept;
  AlignedBuffer& operator=(AlignedBuffer&& o) noexcept;
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;

  // Makes room for at least n bytes; the contents are not kept.
  void Reserve(size_t n);
  uint8_t* data() { return data_; }
  size_t capacity() const { return capacity_; }

 private:
  uint8_t* data_ = nullptr;
  size_t capacity_ = 0;
};

class DirectReader;

// Bytes [pos, pos + len) of `file`.
struct FileRange {
  const DirectReader* file = nullptr;
  uint64_t pos = 0, len = 0;
};

// A file opened for reading, by O_DIRECT where allowed. Thread-safe:
// concurrent reads into distinct buffers.
class DirectReader {
 public:
  // Block alignment of O_DIRECT offsets, lengths and buffer addresses: 4 KiB
  // covers 512-byte and 4 KiB logical blocks alike.
  static constexpr uint64_t kAlign = 4096;

  // Opens `path`. Reads bypass the page cache (O_DIRECT) if `direct`, the
  // environment does not set GLMQ_DIRECT_IO=0 and the file system accepts
  // O_DIRECT; otherwise they are plain preads (also used from then on if a
  // direct read is refused with EINVAL).
  static absl::StatusOr<std::unique_ptr<DirectReader>> Open(const std::string& path,
                                                            bool direct = true);
  ~DirectReader();
  DirectReader(const DirectReader&) = delete;
  DirectReader& operator=(const DirectReader&) = delete;

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }
  // Whether reads currently go around the page cache.
  bool direct() const { return direct_fd_ >= 0 && !refused_.load(std::memory_order_relaxed); }

  // Reads `ranges` laid end to end into `buf` and returns them as one span
  // inside it (valid until `buf` is reused or grows). Direct: each range is
  // read as the whole aligned blocks around it; the first lands in place
  // (no copy in user space), a later one is moved down by < 8 KiB if its
  // offset within a block differs. Buffered: pread into place. Errors name
  // the file, the range and errno; a range past the end is an error.
  static absl::StatusOr<absl::Span<const uint8_t>> ReadRanges(absl::Span<const FileRange> ranges,
                                                              AlignedBuffer* buf);

  // Buffered pread of exactly len bytes at pos into out (any alignment).
  absl::Status ReadAt(uint64_t pos, uint64_t len, uint8_t* out) const {
    return PRead(fd_, pos, len, out);
  }

 private:
  DirectReader(std::string path, uint64_t size, int fd, int direct_fd)
      : path_(std::move(path)), size_(size), fd_(fd), direct_fd_(direct_fd) {}
  // pread of exactly len bytes at pos into out.
  absl::Status PRead(int fd, uint64_t pos, uint64_t len, uint8_t* out) const;
  // The range's bytes at out + (pos % kAlign), out aligned; false if the
  // file system refused O_DIRECT (the caller falls back).
  absl::StatusOr<bool> ReadDirect(uint64_t pos, uint64_t len, uint8_t* out) const;

  std::string path_;
  uint64_t size_;
  int fd_;         // buffered
  int direct_fd_;  // O_DIRECT, or -1
  mutable std::atomic<bool> refused_{false};
};

}  // namespace glmq
