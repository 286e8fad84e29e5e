#include "format/header.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/checksum.h"

namespace glmq {
namespace {

void PutU32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void PutU64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t GetU32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t{p[i]} << (8 * i);
  return v;
}
uint64_t GetU64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{p[i]} << (8 * i);
  return v;
}

}  // namespace

void EncodeGlmqHeader(const GlmqHeader& h, uint8_t* out) {
  std::memset(out, 0, kGlmqHeaderSize);
  std::memcpy(out, kGlmqMagic, sizeof(kGlmqMagic));
  PutU32(out + 8, h.major);
  PutU32(out + 12, h.minor);
  PutU64(out + 16, h.file_size);
  PutU64(out + 24, h.data_offset);
  PutU64(out + 32, h.data_size);
  PutU64(out + 40, h.metadata_offset);
  PutU64(out + 48, h.metadata_size);
  PutU64(out + 56, h.metadata_xxh64);
  PutU32(out + 64, h.tensor_alignment);
  PutU32(out + 68, h.flags);
  // Bytes 72..119 are reserved (zero).
  PutU64(out + kGlmqHeaderChecksumOffset, XxHash64(out, kGlmqHeaderChecksumOffset));
}

absl::StatusOr<GlmqHeader> DecodeGlmqHeader(absl::Span<const uint8_t> bytes,
                                            absl::string_view path) {
  if (bytes.size() < kGlmqHeaderSize)
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": not a .glmq file: ", bytes.size(), " bytes, shorter than the ",
        kGlmqHeaderSize, "-byte header"));
  const uint8_t* p = bytes.data();
  if (std::memcmp(p, kGlmqMagic, sizeof(kGlmqMagic)) != 0)
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a .glmq file (bad magic bytes at offset 0)"));
  GlmqHeader h;
  h.major = GetU32(p + 8);
  h.minor = GetU32(p + 12);
  // The major version is checked before the checksum: a future major version
  // may lay the header out differently, and deserves a version message.
  if (h.major != kGlmqMajorVersion)
    return absl::FailedPreconditionError(absl::StrCat(
        "file ", path, " has format major version ", h.major, "; this glmq reads version ",
        kGlmqMajorVersion));
  const uint64_t stored = GetU64(p + kGlmqHeaderChecksumOffset);
  const uint64_t actual = XxHash64(p, kGlmqHeaderChecksumOffset);
  if (stored != actual)
    return absl::DataLossError(absl::StrCat(path, ": header checksum mismatch (stored ",
                                            HexU64(stored), ", computed ", HexU64(actual), ")"));
  h.file_size = GetU64(p + 16);
  h.data_offset = GetU64(p + 24);
  h.data_size = GetU64(p + 32);
  h.metadata_offset = GetU64(p + 40);
  h.metadata_size = GetU64(p + 48);
  h.metadata_xxh64 = GetU64(p + 56);
  h.tensor_alignment = GetU32(p + 64);
  h.flags = GetU32(p + 68);
  // Flags are reserved in 1.0. A newer minor version may define some that an
  // older reader can ignore, so they are only rejected for minor 0.
  if (h.minor == 0 && h.flags != 0)
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": header field 'flags' is ", h.flags, " (must be 0 in version 1.0)"));
  const uint32_t a = h.tensor_alignment;
  if (a < kGlmqMinTensorAlignment || a > kGlmqMaxTensorAlignment || (a & (a - 1)) != 0)
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": header field 'tensor_alignment' is ", a, " (must be a power of two in [",
        kGlmqMinTensorAlignment, ", ", kGlmqMaxTensorAlignment, "])"));
  return h;
}

}  // namespace glmq
