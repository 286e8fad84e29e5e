#include "core/file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/status.h"

namespace glmq {
namespace {

absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  const int err = errno;
  const std::string msg = absl::StrCat(what, " '", path, "': ", std::strerror(err));
  if (err == ENOENT) return absl::NotFoundError(msg);
  if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(msg);
  return absl::UnavailableError(msg);
}

}  // namespace

absl::StatusOr<std::unique_ptr<MappedFile>> MappedFile::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot open", path);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    absl::Status s = ErrnoError("cannot stat", path);
    ::close(fd);
    return s;
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(absl::StrCat("'", path, "' is not a regular file"));
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  const uint8_t* data = nullptr;
  if (size > 0) {
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      absl::Status s = ErrnoError("cannot mmap", path);
      ::close(fd);
      return s;
    }
    data = static_cast<const uint8_t*>(p);
  }
  ::close(fd);  // the mapping keeps the file referenced
  return std::unique_ptr<MappedFile>(new MappedFile(path, data, size));
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
}

namespace {
// Rounds [offset, offset+len) out to page boundaries inside [0, size).
void PageRange(uint64_t size, uint64_t offset, uint64_t len, uint64_t* begin, uint64_t* end) {
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  *begin = offset / page * page;
  *end = std::min(size, offset + len);
}
}  // namespace

void MappedFile::AdviseSequential(uint64_t offset, uint64_t len) const {
  if (data_ == nullptr || len == 0) return;
  uint64_t b, e;
  PageRange(size_, offset, len, &b, &e);
  if (e > b) ::madvise(const_cast<uint8_t*>(data_) + b, e - b, MADV_SEQUENTIAL);
}

void MappedFile::DropRange(uint64_t offset, uint64_t len) const {
  if (data_ == nullptr || len == 0) return;
  uint64_t b, e;
  PageRange(size_, offset, len, &b, &e);
  if (e > b) ::madvise(const_cast<uint8_t*>(data_) + b, e - b, MADV_DONTNEED);
}

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot open", path);
  std::string out;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      absl::Status s = ErrnoError("cannot read", path);
      ::close(fd);
      return s;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

absl::StatusOr<uint64_t> FileSize(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoError("cannot stat", path);
  return static_cast<uint64_t>(st.st_size);
}

bool FileExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

absl::StatusOr<std::unique_ptr<AtomicOutputFile>> AtomicOutputFile::Create(
    const std::string& path) {
  std::string temp = absl::StrCat(path, ".tmp.", ::getpid());
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("cannot create", temp);
  return std::unique_ptr<AtomicOutputFile>(new AtomicOutputFile(path, std::move(temp), fd));
}

AtomicOutputFile::~AtomicOutputFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temp_path_.c_str());
}

absl::Status AtomicOutputFile::Write(const void* data, uint64_t size) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint64_t left = size;
  while (left > 0) {
    const ssize_t n = ::write(fd_, p, std::min<uint64_t>(left, 1u << 30));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("cannot write", temp_path_);
    }
    p += n;
    left -= static_cast<uint64_t>(n);
  }
  position_ += size;
  if (wb_window_ > 0) WriteBehind();
  return absl::OkStatus();
}

void AtomicOutputFile::SetWriteBehind(uint64_t window, int lag) {
  wb_window_ = window;
  wb_lag_ = std::max(1, lag);
  wb_started_ = wb_dropped_ = position_ / std::max<uint64_t>(1, window) * window;
}

// Hints only: errors here resurface in Commit()'s fsync, which is checked.
void AtomicOutputFile::WriteBehind() {
  while (position_ - wb_started_ >= wb_window_) {
    ::sync_file_range(fd_, static_cast<off_t>(wb_started_), static_cast<off_t>(wb_window_),
                      SYNC_FILE_RANGE_WRITE);
    wb_started_ += wb_window_;
  }
  while (wb_started_ - wb_dropped_ > wb_lag_ * wb_window_) {
    ::sync_file_range(fd_, static_cast<off_t>(wb_dropped_), static_cast<off_t>(wb_window_),
                      SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                          SYNC_FILE_RANGE_WAIT_AFTER);
    ::posix_fadvise(fd_, static_cast<off_t>(wb_dropped_), static_cast<off_t>(wb_window_),
                    POSIX_FADV_DONTNEED);
    wb_dropped_ += wb_window_;
  }
}

absl::Status AtomicOutputFile::PWrite(const void* data, uint64_t size, uint64_t offset) {
  const auto* p = static_cast<const uint8_t*>(data);
  while (size > 0) {
    const ssize_t n = ::pwrite(fd_, p, size, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("cannot write", temp_path_);
    }
    p += n;
    size -= static_cast<uint64_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return absl::OkStatus();
}

absl::Status AtomicOutputFile::PadTo(uint64_t alignment) {
  static const uint8_t kZeros[4096] = {};
  while (position_ % alignment != 0) {
    const uint64_t n = std::min<uint64_t>(alignment - position_ % alignment, sizeof(kZeros));
    GLMQ_RETURN_IF_ERROR(Write(kZeros, n));
  }
  return absl::OkStatus();
}

absl::Status AtomicOutputFile::Commit() {
  if (::fsync(fd_) != 0) return ErrnoError("cannot fsync", temp_path_);
  if (::close(fd_) != 0) {
    fd_ = -1;
    return ErrnoError("cannot close", temp_path_);
  }
  fd_ = -1;
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) return ErrnoError("cannot rename onto", path_);
  committed_ = true;
  return absl::OkStatus();
}

absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents) {
  GLMQ_ASSIGN_OR_RETURN(auto out, AtomicOutputFile::Create(path));
  GLMQ_RETURN_IF_ERROR(out->Write(contents));
  return out->Commit();
}

bool IsTerminal(int fd) { return ::isatty(fd) == 1; }

}  // namespace glmq
