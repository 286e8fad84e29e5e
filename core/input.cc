#include "core/input.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/status.h"

namespace glmq {
namespace {

// Limits, far above any real file of the kind and low enough that reading
// one into memory is harmless on a small machine.
constexpr InputKindInfo kInputKinds[] = {
    // Real configs and indexes are < 100 KB (GLM-4-32B's index: 60 KB).
    {InputKind::kJson, "JSON file", uint64_t{64} << 20},
    // = format/embedded.h kMaxEmbeddedFileBytes (tokenizer.json: 7 MB).
    {InputKind::kTokenizer, "tokenizer file", uint64_t{256} << 20},
    // 1 GiB of text is ~250 M tokens (1 GB of ids), ~75 s of tokenizing.
    {InputKind::kText, "text file", uint64_t{1} << 30},
    // = image/image.h kMaxImageFileBytes.
    {InputKind::kImage, "image file", uint64_t{256} << 20},
    {InputKind::kSmall, "file", uint64_t{256} << 20},
    // Mapped read-only, never copied: the size is checked by the format.
    {InputKind::kMapped, "file", ~uint64_t{0}},
};

absl::Status ErrnoError(absl::string_view what, const std::string& path, int err) {
  const std::string msg = absl::StrCat(what, " '", path, "': ", std::strerror(err));
  if (err == ENOENT || err == ENOTDIR) return absl::NotFoundError(msg);
  if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(msg);
  return absl::UnavailableError(msg);
}

absl::Status NotRegular(const std::string& path, mode_t mode, absl::string_view wanted) {
  return absl::InvalidArgumentError(
      absl::StrCat("'", path, "' is ", FileTypeName(mode), ", not ", wanted));
}

absl::Status TooLarge(const std::string& path, const InputKindInfo& k, uint64_t size) {
  return absl::ResourceExhaustedError(absl::StrCat("'", path, "': ", k.name, " of ", size,
                                                   " bytes is over the limit of ", k.max_bytes,
                                                   " bytes"));
}

struct InputId {
  dev_t dev;
  ino_t ino;
  std::string path;
};

std::mutex& RegistryMutex() {
  static std::mutex mu;
  return mu;
}

std::vector<InputId>& Registry() {
  static auto* r = new std::vector<InputId>();
  return *r;
}

}  // namespace

const InputKindInfo& InputKindTraits(InputKind kind) {
  for (const InputKindInfo& k : kInputKinds) {
    if (k.kind == kind) return k;
  }
  return kInputKinds[4];  // kSmall
}

absl::string_view FileTypeName(mode_t mode) {
  if (S_ISREG(mode)) return "a regular file";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISLNK(mode)) return "a symbolic link";
  return "not a regular file";
}

InputFile::~InputFile() {
  if (fd_ >= 0) ::close(fd_);
}

absl::StatusOr<InputFile> OpenInputFile(const std::string& path, InputKind kind) {
  const InputKindInfo& k = InputKindTraits(kind);
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoError("cannot open", path, errno);
  if (!S_ISREG(st.st_mode)) return NotRegular(path, st.st_mode, "a regular file");
  if (static_cast<uint64_t>(st.st_size) > k.max_bytes) return TooLarge(path, k, st.st_size);
  // O_NONBLOCK: if the path was swapped for a FIFO since the stat, opening
  // it must not wait for a writer. O_NOCTTY: never adopt a terminal.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return ErrnoError("cannot open", path, errno);
  InputFile f(fd, 0, path);
  if (::fstat(fd, &st) != 0) return ErrnoError("cannot stat", path, errno);
  if (!S_ISREG(st.st_mode)) return NotRegular(path, st.st_mode, "a regular file");
  if (static_cast<uint64_t>(st.st_size) > k.max_bytes) return TooLarge(path, k, st.st_size);
  // Regular files ignore O_NONBLOCK for reads, but clear it anyway.
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  f.size_ = static_cast<uint64_t>(st.st_size);
  RegisterInput(st.st_dev, st.st_ino, path);
  return f;
}

absl::StatusOr<std::string> InputFile::ReadAll(InputKind kind) const {
  const InputKindInfo& k = InputKindTraits(kind);
  std::string out;
  out.reserve(size_);
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd_, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("cannot read", path_, errno);
    }
    if (n == 0) break;
    if (out.size() + static_cast<uint64_t>(n) > k.max_bytes) {
      return TooLarge(path_, k, out.size() + static_cast<uint64_t>(n));
    }
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

absl::StatusOr<std::string> ReadInputFile(const std::string& path, InputKind kind) {
  GLMQ_ASSIGN_OR_RETURN(InputFile f, OpenInputFile(path, kind));
  return f.ReadAll(kind);
}

absl::Status CheckInputDirectory(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoError("cannot open", path, errno);
  if (!S_ISDIR(st.st_mode)) return NotRegular(path, st.st_mode, "a directory");
  return absl::OkStatus();
}

void RegisterInput(dev_t dev, ino_t ino, const std::string& path) {
  std::lock_guard<std::mutex> lock(RegistryMutex());
  for (InputId& id : Registry()) {
    if (id.dev == dev && id.ino == ino) {
      id.path = path;  // the latest name it was opened under
      return;
    }
  }
  Registry().push_back({dev, ino, path});
}

std::optional<std::string> FindRegisteredInput(dev_t dev, ino_t ino) {
  std::lock_guard<std::mutex> lock(RegistryMutex());
  for (const InputId& id : Registry()) {
    if (id.dev != dev || id.ino != ino) continue;
    // Still that file? An input deleted since may have had its inode
    // number reused by an unrelated new file.
    struct stat st;
    if (::stat(id.path.c_str(), &st) == 0 && st.st_dev == dev && st.st_ino == ino) return id.path;
  }
  return std::nullopt;
}

}  // namespace glmq
