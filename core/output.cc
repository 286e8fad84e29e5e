#include "core/output.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/input.h"
#include "core/status.h"
#include "core/temp_cleanup.h"

namespace glmq {
namespace {

std::atomic<bool> g_may_replace_inputs{false};

absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  const int err = errno;
  const std::string msg = absl::StrCat(what, " '", path, "': ", std::strerror(err));
  if (err == ENOENT) return absl::NotFoundError(msg);
  if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(msg);
  return absl::UnavailableError(msg);
}

// Folder and base name of `path` ("." for a bare name).
void SplitPath(const std::string& path, std::string* dir, std::string* base) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) {
    dir->assign(1, '.');
    *base = path;
  } else {
    *dir = path.substr(0, slash == 0 ? 1 : slash);
    *base = path.substr(slash + 1);
  }
}

std::string RandomSuffix() {
  static std::atomic<uint64_t> counter{0};
  std::random_device rd;
  const uint64_t v = (uint64_t{rd()} << 32) ^ rd() ^ (counter.fetch_add(1) * 0x9e3779b97f4a7c15u);
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(v));
  return std::string(buf, 12);
}

bool ProcessRuns(int pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno != ESRCH); }

// The pid of "<base>.tmp.<pid>[.<suffix>]", or 0 if `name` is not one.
int TempFilePid(const std::string& base, const std::string& name) {
  const std::string prefix = base + ".tmp.";
  if (!absl::StartsWith(name, prefix)) return 0;
  std::string rest = name.substr(prefix.size());
  rest = rest.substr(0, rest.find('.'));
  int pid = 0;
  if (rest.empty() || !absl::SimpleAtoi(rest, &pid) || pid <= 0) return 0;
  return pid;
}

// A fresh O_TMPFILE in `dir`, or -1 with errno set.
int OpenAnonymous(const std::string& dir) {
#ifdef O_TMPFILE
  return ::open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
#else
  errno = EOPNOTSUPP;
  return -1;
#endif
}

// Copies bytes [0, bytes) of src to dst (both from offset 0) inside the kernel.
absl::Status CopyRange(int src, int dst, uint64_t bytes, const std::string& path) {
  loff_t in = 0, out = 0;
  while (static_cast<uint64_t>(out) < bytes) {
    const uint64_t left = bytes - static_cast<uint64_t>(out);
    const ssize_t n =
        ::copy_file_range(src, &in, dst, &out, std::min<uint64_t>(left, uint64_t{1} << 30), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == ENOSYS || errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP)) {
      std::vector<char> buf(uint64_t{8} << 20);  // no copy_file_range here: plain copy
      while (static_cast<uint64_t>(out) < bytes) {
        const ssize_t r = ::pread(src, buf.data(),
                                  std::min<uint64_t>(buf.size(), bytes - out), in);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return ErrnoError("cannot read the source of", path);
        for (ssize_t done = 0; done < r;) {
          const ssize_t w = ::pwrite(dst, buf.data() + done, r - done, out + done);
          if (w < 0 && errno == EINTR) continue;
          if (w < 0) return ErrnoError("cannot write", path);
          done += w;
        }
        in += r;
        out += r;
      }
      return absl::OkStatus();
    }
    if (n < 0) return ErrnoError("cannot copy into", path);
    if (n == 0)
      return absl::DataLossError(absl::StrCat(path, ": source ended after ", out, " bytes"));
  }
  return absl::OkStatus();
}

}  // namespace

void SetOutputMayReplaceInputs(bool allow) { g_may_replace_inputs = allow; }

namespace {
absl::Status CheckOutput(const std::string& path, bool may_replace_input);
}  // namespace

absl::Status CheckOutputPath(const std::string& path) { return CheckOutput(path, false); }

namespace {
absl::Status CheckOutput(const std::string& path, bool may_replace_input) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();  // a new file
    return ErrnoError("cannot check output", path);
  }
  if (S_ISLNK(st.st_mode) && ::stat(path.c_str(), &st) != 0) {
    return absl::OkStatus();  // a dangling link: the rename replaces the link
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("refusing to write '", path, "': it is ", FileTypeName(st.st_mode),
                     "; an output must be a regular file or a new path"));
  }
  if (std::optional<std::string> input = FindRegisteredInput(st.st_dev, st.st_ino);
      input && !g_may_replace_inputs && !may_replace_input) {
    return absl::FailedPreconditionError(absl::StrCat(
        "refusing to write '", path, "': it is the input '", *input,
        "' (same file); writing it would destroy the input. Choose another output, or pass "
        "--force to replace it"));
  }
  return absl::OkStatus();
}
}  // namespace

std::vector<StaleTempFile> FindStaleTempFiles(const std::string& path) {
  std::vector<StaleTempFile> out;
  std::string dir, base;
  SplitPath(path, &dir, &base);
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    const int pid = TempFilePid(base, name);
    if (pid == 0 || ProcessRuns(pid)) continue;
    const std::string full = dir + "/" + name;
    const int fd = ::open(full.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) continue;
    struct stat st;
    // A live writer (another pid namespace, say) holds the lock.
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && ::flock(fd, LOCK_EX | LOCK_NB) == 0) {
      out.push_back({full, static_cast<uint64_t>(st.st_size), pid});
    }
    ::close(fd);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end(),
            [](const StaleTempFile& a, const StaleTempFile& b) { return a.path < b.path; });
  return out;
}

absl::StatusOr<std::unique_ptr<AtomicOutputFile>> AtomicOutputFile::CreateReplacing(
    const std::string& path) {
  GLMQ_RETURN_IF_ERROR(CheckOutput(path, true));
  const bool allowed = g_may_replace_inputs.exchange(true);
  absl::StatusOr<std::unique_ptr<AtomicOutputFile>> out = Create(path);
  g_may_replace_inputs = allowed;
  if (out.ok()) (*out)->replaces_input_ = true;
  return out;
}

absl::StatusOr<std::unique_ptr<AtomicOutputFile>> AtomicOutputFile::Create(
    const std::string& path) {
  GLMQ_RETURN_IF_ERROR(CheckOutputPath(path));
  for (const StaleTempFile& s : FindStaleTempFiles(path)) {
    if (::unlink(s.path.c_str()) == 0) {
      std::fprintf(stderr,
                   "glmq: removed '%s' (%llu bytes), an unfinished output of process %d, which "
                   "no longer runs\n",
                   s.path.c_str(), static_cast<unsigned long long>(s.bytes), s.pid);
    }
  }
  std::string dir, base;
  SplitPath(path, &dir, &base);
  int fd = OpenAnonymous(dir);
  if (fd >= 0) return std::unique_ptr<AtomicOutputFile>(new AtomicOutputFile(path, "", fd, -1));
  if (errno == ENOENT || errno == ENOTDIR || errno == EACCES || errno == EPERM ||
      errno == EROFS) {
    return ErrnoError("cannot create a file in", dir);
  }
  // No O_TMPFILE here (EOPNOTSUPP, EISDIR, EINVAL): a named temp file that
  // cannot be a pre-planted file or symlink.
  for (int attempt = 0; attempt < 16; ++attempt) {
    std::string temp = absl::StrCat(path, ".tmp.", ::getpid(), ".", RandomSuffix());
    fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0 && errno == EEXIST) continue;
    if (fd < 0) return ErrnoError("cannot create", temp);
    ::flock(fd, LOCK_EX | LOCK_NB);  // marks it live for FindStaleTempFiles
    const int slot = RegisterTempPath(temp);
    return std::unique_ptr<AtomicOutputFile>(new AtomicOutputFile(path, temp, fd, slot));
  }
  return absl::AlreadyExistsError(absl::StrCat("cannot create a temp file for '", path, "'"));
}

AtomicOutputFile::~AtomicOutputFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !temp_path_.empty()) ::unlink(temp_path_.c_str());
  UnregisterTempPath(cleanup_slot_);
}

absl::Status AtomicOutputFile::Write(const void* data, uint64_t size) {
  if (fd_ < 0) return absl::FailedPreconditionError(absl::StrCat(path_, ": already closed"));
  const auto* p = static_cast<const uint8_t*>(data);
  uint64_t left = size;
  while (left > 0) {
    const ssize_t n = ::write(fd_, p, std::min<uint64_t>(left, 1u << 30));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("cannot write", path_);
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
  if (fd_ < 0) return absl::FailedPreconditionError(absl::StrCat(path_, ": already closed"));
  const auto* p = static_cast<const uint8_t*>(data);
  while (size > 0) {
    const ssize_t n = ::pwrite(fd_, p, size, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("cannot write", path_);
    }
    p += n;
    size -= static_cast<uint64_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return absl::OkStatus();
}

absl::Status AtomicOutputFile::CloneFrom(int src_fd, uint64_t bytes, bool* reflinked) {
  if (fd_ < 0) return absl::FailedPreconditionError(absl::StrCat(path_, ": already closed"));
  if (position_ != 0)
    return absl::FailedPreconditionError(absl::StrCat(path_, ": clone into a non-empty output"));
  struct stat st;
  if (::fstat(src_fd, &st) != 0) return ErrnoError("cannot stat the source of", path_);
  if (static_cast<uint64_t>(st.st_size) < bytes)
    return absl::OutOfRangeError(absl::StrCat(path_, ": source has ", st.st_size,
                                              " bytes, fewer than the ", bytes, " to clone"));
  ::fchmod(fd_, st.st_mode & 07777);  // best effort: keep the file's permissions
  *reflinked = ::ioctl(fd_, FICLONE, src_fd) == 0;
  if (*reflinked) {
    if (::ftruncate(fd_, static_cast<off_t>(bytes)) != 0) return ErrnoError("cannot cut", path_);
  } else {
    GLMQ_RETURN_IF_ERROR(CopyRange(src_fd, fd_, bytes, path_));
  }
  if (::lseek(fd_, static_cast<off_t>(bytes), SEEK_SET) < 0)
    return ErrnoError("cannot seek", path_);
  position_ = bytes;
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

absl::Status AtomicOutputFile::LinkTemp() {
  const std::string proc = absl::StrCat("/proc/self/fd/", fd_);
  for (int attempt = 0; attempt < 16; ++attempt) {
    std::string temp = absl::StrCat(path_, ".tmp.", ::getpid(), ".", RandomSuffix());
    cleanup_slot_ = RegisterTempPath(temp);
    int rc = ::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, temp.c_str(), AT_SYMLINK_FOLLOW);
    if (rc != 0 && errno == ENOENT) {  // no /proc: needs CAP_DAC_READ_SEARCH
      rc = ::linkat(fd_, "", AT_FDCWD, temp.c_str(), AT_EMPTY_PATH);
    }
    if (rc == 0) {
      temp_path_ = std::move(temp);
      return absl::OkStatus();
    }
    const int err = errno;
    UnregisterTempPath(cleanup_slot_);
    cleanup_slot_ = -1;
    if (err != EEXIST) {
      errno = err;
      return ErrnoError("cannot link the finished output as", temp);
    }
  }
  return absl::AlreadyExistsError(absl::StrCat("cannot name a temp file for '", path_, "'"));
}

absl::Status AtomicOutputFile::Commit() {
  if (fd_ < 0) return absl::FailedPreconditionError(absl::StrCat(path_, ": already closed"));
  if (::fsync(fd_) != 0) return ErrnoError("cannot fsync", path_);
  if (temp_path_.empty()) GLMQ_RETURN_IF_ERROR(LinkTemp());
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) return ErrnoError("cannot close", temp_path_);
  // The output may have appeared (or become an input) while we worked.
  GLMQ_RETURN_IF_ERROR(CheckOutput(path_, replaces_input_));
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    return ErrnoError("cannot rename onto", path_);
  }
  committed_ = true;
  UnregisterTempPath(cleanup_slot_);
  cleanup_slot_ = -1;
  std::string dir, base;
  SplitPath(path_, &dir, &base);
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {  // make the rename durable; best effort (some file systems refuse)
    ::fsync(dfd);
    ::close(dfd);
  }
  return absl::OkStatus();
}

absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents) {
  GLMQ_ASSIGN_OR_RETURN(auto out, AtomicOutputFile::Create(path));
  GLMQ_RETURN_IF_ERROR(out->Write(contents));
  return out->Commit();
}

}  // namespace glmq
