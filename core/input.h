// The input policy: every file glmq reads goes through here. An input must
// be a regular file (a directory only where one is expected) and, when it is
// read into memory, no larger than the limit of its kind. The type is checked
// without blocking: a FIFO, a character device (/dev/zero), a socket or a
// directory given as a file is refused before a single byte is read, and a
// file that grows past its limit while being read is refused too.
//
// Every input opened here is remembered (device + inode) so that the output
// policy (core/output.h) can refuse to write over a file this process reads.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace glmq {

// What an input holds, and so how large it may be when read into memory.
enum class InputKind : uint8_t {
  kJson,       // config.json, generation_config.json, *.index.json, tokenizer_config.json, ...
  kTokenizer,  // tokenizer.model, tokenizer.json
  kText,       // --text corpora
  kImage,      // PNG / JPEG
  kSmall,      // anything else read whole (the default of ReadFileToString)
  kMapped,     // .glmq, safetensors, logits, statistics: mapped, never copied; no limit
};

struct InputKindInfo {
  InputKind kind;
  absl::string_view name;  // for messages: "JSON file"
  uint64_t max_bytes;      // largest file of this kind that is read
};

// The row of `kind` (table in input.cc, with the reason of each limit).
const InputKindInfo& InputKindTraits(InputKind kind);

// A read-only descriptor of a checked input; closes it on destruction.
class InputFile {
 public:
  InputFile(InputFile&& o) noexcept : fd_(o.fd_), size_(o.size_), path_(std::move(o.path_)) {
    o.fd_ = -1;
  }
  InputFile& operator=(InputFile&&) = delete;
  InputFile(const InputFile&) = delete;
  ~InputFile();
  int fd() const { return fd_; }
  uint64_t size() const { return size_; }  // at open time
  const std::string& path() const { return path_; }
  // Hands the descriptor over (the caller closes it).
  int Release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  // Reads the whole file (at most the kind's limit, even if it grew).
  absl::StatusOr<std::string> ReadAll(InputKind kind) const;

 private:
  friend absl::StatusOr<InputFile> OpenInputFile(const std::string&, InputKind);
  InputFile(int fd, uint64_t size, std::string path)
      : fd_(fd), size_(size), path_(std::move(path)) {}
  int fd_;
  uint64_t size_;
  std::string path_;
};

// Opens `path` for reading under the policy: a regular file (checked with
// stat before opening, and again with fstat on the descriptor, which is
// opened O_NONBLOCK so that a FIFO swapped in between cannot block) of at
// most InputKindTraits(kind).max_bytes. Errors name the path and say what
// it is ("is a FIFO, not a regular file").
absl::StatusOr<InputFile> OpenInputFile(const std::string& path, InputKind kind);

// OpenInputFile + ReadAll.
absl::StatusOr<std::string> ReadInputFile(const std::string& path, InputKind kind);

// `path` must be a directory (an HF checkpoint folder).
absl::Status CheckInputDirectory(const std::string& path);

// "a FIFO", "a directory", "a character device", ... for st_mode.
absl::string_view FileTypeName(mode_t mode);

// Registry of this process's inputs (thread-safe). OpenInputFile and
// MappedFile::Open register every file they open.
void RegisterInput(dev_t dev, ino_t ino, const std::string& path);
// The path of the registered input with this device and inode, if that path
// still names that file (a deleted input's inode number may be reused).
std::optional<std::string> FindRegisteredInput(dev_t dev, ino_t ino);

}  // namespace glmq
