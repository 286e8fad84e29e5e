// Read-only safetensors files (https://github.com/huggingface/safetensors):
// 8-byte little-endian header length, JSON header, data section. Open()
// validates everything before any tensor byte is touched: header length
// within the file and <= 100 MB, JSON object, known dtype, shape x dtype size
// == end - begin, offsets in range, non-overlapping and covering the whole
// data section. "__metadata__" is ignored. Errors name the file and tensor.
// Thread-safe after Open (read-only mapping).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "core/dtype.h"
#include "core/file.h"

namespace glmq {

// Largest JSON header we accept; real headers are < 100 KB.
inline constexpr uint64_t kMaxSafetensorsHeaderBytes = 100ull << 20;

struct SafetensorsTensor {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  uint64_t offset = 0;  // absolute file offset of the first byte
  uint64_t size = 0;    // bytes
};

class SafetensorsFile {
 public:
  static absl::StatusOr<std::unique_ptr<SafetensorsFile>> Open(const std::string& path);

  const std::string& path() const { return file_->path(); }
  // Tensors in file (offset) order.
  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }
  // nullptr if absent.
  const SafetensorsTensor* Find(absl::string_view name) const;
  absl::Span<const uint8_t> Data(const SafetensorsTensor& t) const {
    return {file_->data() + t.offset, t.size};
  }
  const MappedFile& mapped() const { return *file_; }
  uint64_t data_begin() const { return data_begin_; }

 private:
  SafetensorsFile() = default;
  absl::Status ParseHeader();
  std::unique_ptr<MappedFile> file_;
  uint64_t data_begin_ = 0;
  std::vector<SafetensorsTensor> tensors_;
  absl::flat_hash_map<std::string, int> by_name_;
};

// Serializes a safetensors header (JSON + 8-byte length, padded with spaces
// to a multiple of 8) for tensors whose offsets are relative to the data
// section, in the given order. Used by the synthesizer and tests.
std::string SafetensorsHeader(const std::vector<SafetensorsTensor>& tensors);

}  // namespace glmq
