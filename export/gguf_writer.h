// Streaming GGUF v3 writer: the caller declares every metadata key and every
// tensor (name, shape, type) first; Start() writes the header, the key-value
// section and the tensor infos (offsets follow from the sizes), then the
// tensors' bytes are appended in declaration order, chunk by chunk, so only
// one chunk is in memory. The file appears under its final name only after
// Finish() (AtomicOutputFile: temp file + fsync + rename). Not thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "core/file.h"
#include "export/gguf_types.h"

namespace glmq::gguf {

class GgufWriter {
 public:
  void AddString(absl::string_view key, absl::string_view value);
  void AddU32(absl::string_view key, uint32_t value);
  void AddF32(absl::string_view key, float value);
  void AddBool(absl::string_view key, bool value);
  void AddStringArray(absl::string_view key, const std::vector<std::string>& values);
  void AddI32Array(absl::string_view key, const std::vector<int32_t>& values);

  // `shape` is row-major ([out, in]); GGUF stores it reversed (ne[0] = in).
  // Returns the bytes the tensor must receive. Error if the row length is not
  // a multiple of the type's block.
  absl::StatusOr<uint64_t> AddTensor(absl::string_view name, const std::vector<int64_t>& shape,
                                     const TensorTypeTraits& type);

  // Creates `path`'s temp file and writes everything up to the first tensor.
  absl::Status Start(const std::string& path);
  // Appends bytes of the current tensor; moving to the next tensor happens
  // when one has received all its bytes.
  absl::Status Write(const uint8_t* data, uint64_t n);
  // Checks that every tensor was written, then renames the file into place.
  absl::Status Finish();
  uint64_t bytes_written() const { return out_ ? out_->position() : 0; }

 private:
  void Key(absl::string_view key, ValueType t);
  std::string kv_;  // serialized key-value pairs
  uint64_t n_kv_ = 0;
  struct Pending {
    std::string name;
    std::vector<int64_t> ne;
    uint32_t type;
    uint64_t size;
  };
  std::vector<Pending> tensors_;
  std::unique_ptr<AtomicOutputFile> out_;
  size_t current_ = 0;         // tensor being written
  uint64_t current_done_ = 0;  // its bytes written so far
};

}  // namespace glmq::gguf
