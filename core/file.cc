#include "core/file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/bus_guard.h"
#include "core/checksum.h"
#include "core/status.h"

namespace glmq {

absl::StatusOr<std::unique_ptr<MappedFile>> MappedFile::Open(const std::string& path) {
  GLMQ_ASSIGN_OR_RETURN(InputFile in, OpenInputFile(path, InputKind::kMapped));
  const uint64_t size = in.size();
  const uint8_t* data = nullptr;
  if (size > 0) {
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, in.fd(), 0);
    if (p == MAP_FAILED) {
      return absl::UnavailableError(
          absl::StrCat("cannot mmap '", path, "': ", std::strerror(errno)));
    }
    data = static_cast<const uint8_t*>(p);
    RegisterMapping(data, size, path);
  }
  return std::unique_ptr<MappedFile>(new MappedFile(path, data, size, in.Release()));
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) {
    UnregisterMapping(data_);
    ::munmap(const_cast<uint8_t*>(data_), size_);
  }
  if (fd_ >= 0) ::close(fd_);
}

absl::Status MappedFile::CheckNotTruncated() const {
  struct stat st;
  if (::fstat(fd_, &st) != 0) {
    return absl::UnavailableError(absl::StrCat("cannot stat '", path_, "': ", std::strerror(errno)));
  }
  if (static_cast<uint64_t>(st.st_size) < size_) {
    return absl::DataLossError(absl::StrCat("'", path_, "' was truncated while in use: ",
                                            st.st_size, " bytes, mapped as ", size_));
  }
  return absl::OkStatus();
}

namespace {
struct HashJob {
  const uint8_t* data;
  uint64_t len;
  uint64_t hash;
};
void HashRange(void* arg) {
  auto* j = static_cast<HashJob*>(arg);
  j->hash = XxHash64(j->data, j->len);
}
}  // namespace

absl::StatusOr<uint64_t> MappedFile::GuardedXxHash64(uint64_t offset, uint64_t len) const {
  if (offset > size_ || len > size_ - offset) {
    return absl::OutOfRangeError(absl::StrCat("'", path_, "': range [", offset, ", +", len,
                                              ") is outside the ", size_, "-byte file"));
  }
  GLMQ_RETURN_IF_ERROR(CheckNotTruncated());
  HashJob job{data_ + offset, len, 0};
  GLMQ_RETURN_IF_ERROR(GuardedRead(HashRange, &job));
  return job.hash;
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

absl::StatusOr<std::string> ReadFileToString(const std::string& path, InputKind kind) {
  return ReadInputFile(path, kind);
}

absl::StatusOr<uint64_t> FileSize(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    const std::string msg = absl::StrCat("cannot stat '", path, "': ", std::strerror(err));
    return err == ENOENT ? absl::NotFoundError(msg) : absl::UnavailableError(msg);
  }
  return static_cast<uint64_t>(st.st_size);
}

bool FileExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

bool IsTerminal(int fd) { return ::isatty(fd) == 1; }

}  // namespace glmq
