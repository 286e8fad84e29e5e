#include "image/image.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "image/decode_internal.h"

namespace glmq::image {
namespace internal {

absl::Status DecodeError(absl::string_view name, absl::string_view format, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(name, ": ", format, ": ", what));
}

absl::Status CheckDimensions(int64_t width, int64_t height, const DecodeLimits& limits,
                             absl::string_view name, absl::string_view format) {
  if (width <= 0 || height <= 0) {
    return DecodeError(name, format, absl::StrCat("empty image (", width, " x ", height, ")"));
  }
  if (width >= (int64_t{1} << 32) || height >= (int64_t{1} << 32)) {
    return DecodeError(name, format, absl::StrCat(width, " x ", height, " is too large"));
  }
  // Both sides are below 2^32, so the product fits in 64 unsigned bits.
  const uint64_t pixels = static_cast<uint64_t>(width) * static_cast<uint64_t>(height);
  if (pixels > static_cast<uint64_t>(std::max<int64_t>(limits.max_pixels, 0))) {
    return DecodeError(name, format,
                       absl::StrCat(width, " x ", height, " = ", pixels,
                                    " pixels is over the limit of ", limits.max_pixels));
  }
  return absl::OkStatus();
}

}  // namespace internal

namespace {

using Decoder = absl::StatusOr<RgbImage> (*)(absl::Span<const uint8_t>, absl::string_view,
                                             const DecodeLimits&);

// Signatures, one row per format we recognise; formats without a decoder get
// a clear "not supported" instead of "not an image".
struct Signature {
  const char* format;
  size_t offset;
  absl::string_view magic;
  Decoder decode;  // nullptr: recognised, not supported
};

constexpr Signature kSignatures[] = {
    {"PNG", 0, absl::string_view("\x89PNG\r\n\x1a\n", 8), internal::DecodePng},
    {"JPEG", 0, absl::string_view("\xff\xd8\xff", 3), internal::DecodeJpeg},
    {"GIF", 0, "GIF8", nullptr},
    {"WebP", 8, "WEBP", nullptr},
    {"BMP", 0, "BM", nullptr},
    {"TIFF", 0, absl::string_view("II*\0", 4), nullptr},
    {"TIFF", 0, absl::string_view("MM\0*", 4), nullptr},
};

const Signature* Sniff(absl::Span<const uint8_t> bytes) {
  const absl::string_view data(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  for (const Signature& s : kSignatures) {
    if (data.size() >= s.offset + s.magic.size() &&
        data.substr(s.offset, s.magic.size()) == s.magic) {
      return &s;
    }
  }
  return nullptr;
}

absl::Status FileError(const std::string& path, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", what));
}

// Closes the descriptor when the read is done, whatever happened.
struct FdCloser {
  int fd;
  ~FdCloser() { close(fd); }
};

absl::StatusOr<std::vector<uint8_t>> ReadRegularFile(const std::string& path) {
  // O_NONBLOCK: opening a FIFO for reading must not wait for a writer.
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return FileError(path, absl::StrCat("cannot open: ", std::strerror(errno)));
  FdCloser closer{fd};
  struct stat st;
  if (fstat(fd, &st) != 0)
    return FileError(path, absl::StrCat("cannot stat: ", std::strerror(errno)));
  if (!S_ISREG(st.st_mode)) return FileError(path, "not a regular file");
  if (st.st_size > kMaxImageFileBytes) {
    return FileError(path, absl::StrCat("file of ", st.st_size, " bytes is over the limit of ",
                                        kMaxImageFileBytes));
  }
  std::vector<uint8_t> data(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < data.size()) {
    const ssize_t n = read(fd, data.data() + got, data.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FileError(path, absl::StrCat("read failed: ", std::strerror(errno)));
    if (n == 0) return FileError(path, "file shrank while being read");
    got += static_cast<size_t>(n);
  }
  return data;
}

}  // namespace

absl::StatusOr<RgbImage> DecodeImage(absl::Span<const uint8_t> bytes, absl::string_view name,
                                     const DecodeLimits& limits) {
  const Signature* sig = Sniff(bytes);
  if (sig == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": not a PNG or JPEG image (", bytes.size(), " bytes)"));
  }
  if (sig->decode == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": ", sig->format, " images are not supported (PNG and JPEG only)"));
  }
  return sig->decode(bytes, name, limits);
}

absl::StatusOr<RgbImage> ReadImageFile(const std::string& path, const DecodeLimits& limits) {
  GLMQ_ASSIGN_OR_RETURN(std::vector<uint8_t> data, ReadRegularFile(path));
  return DecodeImage(data, path, limits);
}

}  // namespace glmq::image
