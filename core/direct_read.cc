#include "core/direct_read.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/status.h"

namespace glmq {
namespace {

constexpr uint64_t kAlign = DirectReader::kAlign;

uint64_t AlignUp(uint64_t v) { return (v + kAlign - 1) / kAlign * kAlign; }

bool DirectIoAllowedByEnv() {
  const char* v = std::getenv("GLMQ_DIRECT_IO");
  return v == nullptr || std::strcmp(v, "0") != 0;
}

}  // namespace

AlignedBuffer::~AlignedBuffer() { std::free(data_); }

AlignedBuffer::AlignedBuffer(AlignedBuffer&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)), capacity_(std::exchange(o.capacity_, 0)) {}

AlignedBuffer& AlignedBuffer::operator=(AlignedBuffer&& o) noexcept {
  if (this != &o) {
    std::free(data_);
    data_ = std::exchange(o.data_, nullptr);
    capacity_ = std::exchange(o.capacity_, 0);
  }
  return *this;
}

void AlignedBuffer::Reserve(size_t n) {
  if (n <= capacity_) return;
  std::free(data_);
  const size_t cap = AlignUp(n);
  data_ = static_cast<uint8_t*>(std::aligned_alloc(kAlign, cap));
  if (data_ == nullptr) std::abort();  // as operator new would
  capacity_ = cap;
}

absl::StatusOr<std::unique_ptr<DirectReader>> DirectReader::Open(const std::string& path,
                                                                 bool direct) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return absl::NotFoundError(absl::StrCat(path, ": cannot open: ", std::strerror(errno)));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return absl::InternalError(absl::StrCat(path, ": cannot stat: ", std::strerror(err)));
  }
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  // tmpfs and some FUSE file systems refuse O_DIRECT at open (EINVAL).
  const int dfd =
      direct && DirectIoAllowedByEnv() ? ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_DIRECT) : -1;
  return std::unique_ptr<DirectReader>(
      new DirectReader(path, static_cast<uint64_t>(st.st_size), fd, dfd));
}

DirectReader::~DirectReader() {
  ::close(fd_);
  if (direct_fd_ >= 0) ::close(direct_fd_);
}

absl::Status DirectReader::PRead(int fd, uint64_t pos, uint64_t len, uint8_t* out) const {
  for (uint64_t done = 0; done < len;) {
    const ssize_t n = ::pread(fd, out + done, len - done, static_cast<off_t>(pos + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      return absl::DataLossError(absl::StrCat(path_, ": cannot read ", len, " bytes at ", pos, ": ",
                                              n < 0 ? std::strerror(errno) : "end of file"));
    done += static_cast<uint64_t>(n);
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> DirectReader::ReadDirect(uint64_t pos, uint64_t len, uint8_t* out) const {
  const uint64_t start = pos / kAlign * kAlign;
  const uint64_t need = pos - start + len;  // bytes wanted from `start`
  const uint64_t want = AlignUp(need);      // whole blocks (may pass the end)
  uint64_t got = 0;
  while (got < need) {
    const ssize_t n = ::pread(direct_fd_, out + got, want - got, static_cast<off_t>(start + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EINVAL && got % kAlign == 0) {
      refused_.store(true, std::memory_order_relaxed);  // e.g. a file system without O_DIRECT
      return false;
    }
    if (n <= 0)
      return absl::DataLossError(
          absl::StrCat(path_, ": cannot read ", len, " bytes at ", pos,
                       " (O_DIRECT): ", n < 0 ? std::strerror(errno) : "end of file"));
    got += static_cast<uint64_t>(n);
    if (got < need && got % kAlign != 0) {  // short read inside the file: finish buffered
      GLMQ_RETURN_IF_ERROR(PRead(fd_, start + got, need - got, out + got));
      got = need;
    }
  }
  return true;
}

absl::StatusOr<absl::Span<const uint8_t>> DirectReader::ReadRanges(
    absl::Span<const FileRange> ranges, AlignedBuffer* buf) {
  uint64_t total = 0;
  for (const FileRange& r : ranges) {
    if (r.pos > r.file->size_ || r.len > r.file->size_ - r.pos)
      return absl::OutOfRangeError(absl::StrCat(r.file->path_, ": bytes [", r.pos, ", ",
                                                r.pos + r.len, ") past the end (", r.file->size_,
                                                " bytes)"));
    total += r.len;
  }
  // Room for the first range's offset in its block, and for each range
  // read at the next aligned address after its place plus its blocks.
  buf->Reserve(total + 3 * kAlign * (ranges.size() + 1));
  uint8_t* const base =
      buf->data() + (!ranges.empty() && ranges[0].file->direct() ? ranges[0].pos % kAlign : 0);
  uint64_t at = 0;  // where this range goes: base + at
  for (size_t i = 0; i < ranges.size(); ++i) {
    const FileRange& r = ranges[i];
    uint8_t* const dst = base + at;
    at += r.len;
    if (r.len == 0) continue;
    if (r.file->direct()) {
      // The first range's blocks start at buf->data(), so it lands at dst.
      // A later one is read at the first aligned address at or after dst
      // (nothing before dst is overwritten) and moved down into place.
      const uint64_t off = static_cast<uint64_t>(dst - buf->data());
      uint8_t* const blocks = buf->data() + (i == 0 ? 0 : AlignUp(off));
      GLMQ_ASSIGN_OR_RETURN(const bool ok, r.file->ReadDirect(r.pos, r.len, blocks));
      if (ok) {
        const uint8_t* const got = blocks + r.pos % kAlign;
        if (got != dst) std::memmove(dst, got, r.len);
        continue;
      }
    }
    GLMQ_RETURN_IF_ERROR(r.file->PRead(r.file->fd_, r.pos, r.len, dst));
  }
  return absl::Span<const uint8_t>(base, total);
}

}  // namespace glmq
