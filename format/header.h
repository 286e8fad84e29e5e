// The fixed 128-byte header at offset 0 of every .glmq file, and the
// constants of format version 1. Normative layout: specs/format.md. Shared by
// the writer, the reader and the malformed-file tests (which re-encode
// headers with a valid checksum to reach the checks behind it).
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace glmq {

// "\x89GLMQ\r\n\x1a": a non-ASCII first byte and a CR LF pair, so that a
// file mangled by a text-mode transfer or mistaken for text fails at once.
inline constexpr uint8_t kGlmqMagic[8] = {0x89, 'G', 'L', 'M', 'Q', '\r', '\n', 0x1a};
inline constexpr uint32_t kGlmqMajorVersion = 1;
inline constexpr uint32_t kGlmqMinorVersion = 0;
inline constexpr uint64_t kGlmqHeaderSize = 128;
// Where the header checksum sits; it covers bytes [0, kHeaderChecksumOffset).
inline constexpr uint64_t kGlmqHeaderChecksumOffset = 120;
// Tensor alignment the writer uses: one page (see specs/format.md for why).
inline constexpr uint32_t kGlmqTensorAlignment = 4096;
// The reader accepts any power-of-two alignment in this range.
inline constexpr uint32_t kGlmqMinTensorAlignment = 64;
inline constexpr uint32_t kGlmqMaxTensorAlignment = 1u << 20;
// Metadata larger than this is refused before parsing (tokenizers included,
// real files hold a few MB).
inline constexpr uint64_t kGlmqMaxMetadataBytes = uint64_t{1} << 30;

struct GlmqHeader {
  uint32_t major = kGlmqMajorVersion;
  uint32_t minor = kGlmqMinorVersion;
  uint64_t file_size = 0;        // bytes of the whole file
  uint64_t data_offset = 0;      // first byte of the tensor data section
  uint64_t data_size = 0;        // bytes of the data section (to the end of the last tensor)
  uint64_t metadata_offset = 0;  // serialized pb::ModelMetadata
  uint64_t metadata_size = 0;
  uint64_t metadata_xxh64 = 0;   // XXH64 (seed 0) of the metadata bytes
  uint32_t tensor_alignment = kGlmqTensorAlignment;
  uint32_t flags = 0;            // none defined in 1.0; must be 0
};

// Little-endian encoding; fills the header checksum. `out` has kGlmqHeaderSize bytes.
void EncodeGlmqHeader(const GlmqHeader& header, uint8_t* out);

// Decodes and checks, in this order: size, magic, major version, header
// checksum, flags, alignment. Does not check offsets against the file size
// (the reader does). Errors start with "<path>: ".
absl::StatusOr<GlmqHeader> DecodeGlmqHeader(absl::Span<const uint8_t> bytes,
                                            absl::string_view path);

}  // namespace glmq
