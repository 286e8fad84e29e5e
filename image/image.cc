#include "image/image.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/input.h"
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
  // The input policy (core/input.h): a regular file of at most
  // kMaxImageFileBytes, refused without blocking otherwise.
  static_assert(kMaxImageFileBytes == (int64_t{256} << 20), "= core/input.cc's kImage limit");
  GLMQ_ASSIGN_OR_RETURN(std::string data, ReadInputFile(path, InputKind::kImage));
  return DecodeImage({reinterpret_cast<const uint8_t*>(data.data()), data.size()}, path, limits);
}

}  // namespace glmq::image
