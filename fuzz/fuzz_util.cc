#include "fuzz/fuzz_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace glmq::fuzz {
namespace {

std::string ScratchBase() {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/glmq_fuzz_scratch." +
         std::to_string(::getpid());
}

void WriteAll(int fd, const uint8_t* data, size_t size) {
  if (::ftruncate(fd, 0) != 0) std::abort();
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::pwrite(fd, data + done, size - done, static_cast<off_t>(done));
    if (n <= 0) std::abort();
    done += static_cast<size_t>(n);
  }
}

// The scratch folder: every name of kFolderFiles is created once, in
// `parked` (a subfolder), and renamed into the folder while an input has it.
struct Folder {
  std::string dir, parked;
  int fd[kNumFolderFiles];
  bool present[kNumFolderFiles] = {};
};

Folder& TheFolder() {
  static Folder* f = [] {
    auto* f = new Folder;
    f->dir = ScratchBase() + ".d";
    f->parked = f->dir + "/parked";
    if (::mkdir(f->dir.c_str(), 0700) != 0 || ::mkdir(f->parked.c_str(), 0700) != 0) std::abort();
    for (size_t i = 0; i < kNumFolderFiles; ++i) {
      const std::string p = f->parked + "/" + kFolderFiles[i];
      f->fd[i] = ::open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
      if (f->fd[i] < 0) std::abort();
    }
    std::atexit([] {
      const Folder& f = TheFolder();
      for (size_t i = 0; i < kNumFolderFiles; ++i) {
        ::unlink((f.dir + "/" + kFolderFiles[i]).c_str());
        ::unlink((f.parked + "/" + kFolderFiles[i]).c_str());
      }
      ::rmdir(f.parked.c_str());
      ::rmdir(f.dir.c_str());
    });
    return f;
  }();
  return *f;
}

}  // namespace

const std::string& ScratchFile(const uint8_t* data, size_t size) {
  static const std::string path = ScratchBase();
  static const int fd = [] {
    const int f = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (f < 0) std::abort();
    std::atexit([] { ::unlink(path.c_str()); });
    return f;
  }();
  WriteAll(fd, data, size);
  return path;
}

std::string PackFolder(const std::string& dir) {
  std::string out;
  for (size_t i = 0; i < kNumFolderFiles; ++i) {
    std::ifstream in(dir + "/" + kFolderFiles[i], std::ios::binary);
    if (!in) continue;
    std::stringstream s;
    s << in.rdbuf();
    const std::string bytes = s.str();
    out.push_back(static_cast<char>(i));
    for (int b = 0; b < 4; ++b) out.push_back(static_cast<char>(bytes.size() >> (8 * b)));
    out += bytes;
  }
  return out;
}

const std::string& ScratchFolder(const uint8_t* data, size_t size) {
  Folder& f = TheFolder();
  bool want[kNumFolderFiles] = {};
  size_t at = 0;
  while (at + 5 <= size) {
    const size_t i = data[at] % kNumFolderFiles;
    uint32_t n = 0;
    for (int b = 0; b < 4; ++b) n |= static_cast<uint32_t>(data[at + 1 + b]) << (8 * b);
    at += 5;
    const size_t len = std::min<size_t>(n, size - at);
    WriteAll(f.fd[i], data + at, len);
    want[i] = true;
    at += len;
  }
  for (size_t i = 0; i < kNumFolderFiles; ++i) {
    if (want[i] == f.present[i]) continue;
    const std::string in = f.dir + "/" + kFolderFiles[i], out = f.parked + "/" + kFolderFiles[i];
    if (want[i] ? std::rename(out.c_str(), in.c_str()) : std::rename(in.c_str(), out.c_str()))
      std::abort();
    f.present[i] = want[i];
  }
  return f.dir;
}

}  // namespace glmq::fuzz
