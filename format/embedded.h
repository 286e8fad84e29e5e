// Embedded files (tokenizer.model, tokenizer.json, tokenizer_config.json)
// inside the metadata: zstd-compressed, with the uncompressed size and XXH64
// so that a reader can prove it got the original bytes back.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "schema/glmq.pb.h"

namespace glmq {

// Largest embedded file we compress or decompress (a tokenizer.json is ~7 MB).
inline constexpr uint64_t kMaxEmbeddedFileBytes = uint64_t{256} << 20;

// Compresses `bytes` (zstd level `level`; 19 is cheap for tokenizer-sized
// files) into an EmbeddedFile named `name`. zstd fails only when it cannot
// allocate memory, which is reported like any allocation failure
// (std::bad_alloc); use CompressEmbeddedFile for a Status instead.
pb::EmbeddedFile MakeEmbeddedFile(absl::string_view name, absl::string_view bytes,
                                  int level = 19);
absl::StatusOr<pb::EmbeddedFile> CompressEmbeddedFile(absl::string_view name,
                                                      absl::string_view bytes, int level = 19);

// Decompresses and checks size and XXH64. Errors read
// "<where>: embedded file '<name>': ...".
absl::StatusOr<std::string> DecompressEmbeddedFile(const pb::EmbeddedFile& file,
                                                   absl::string_view where);

}  // namespace glmq
