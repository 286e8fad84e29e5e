// Strict reader of GGUF files (version 2 and 3; llama.cpp's gguf.cpp is the
// reference). Before anything is used it checks the magic, version, counts,
// every string and array length against the bytes left, value types, key
// uniqueness, general.alignment, and for every tensor its name, dimensions,
// type, size, alignment and bounds, and that no two tensors overlap. Every
// error names the file and the field, key or tensor. Safe on arbitrary
// bytes (a fuzz target): nothing is allocated before its size is checked
// against the input. Thread-safe after Open.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "core/file.h"
#include "export/gguf_types.h"

namespace glmq::gguf {

// One metadata value. Integers of every width are held in `i` (and u64 in
// `u` too), floats in `f`; arrays hold their elements in `strings` or
// `ints` / `floats` (by element type); nested arrays are rejected.
struct Value {
  ValueType type = ValueType::kU8;
  ValueType elem_type = ValueType::kU8;  // arrays only
  int64_t i = 0;
  uint64_t u = 0;
  double f = 0;
  std::string s;
  std::vector<std::string> strings;
  std::vector<int64_t> ints;
  std::vector<double> floats;
  uint64_t count = 0;  // array length
};

struct TensorInfo {
  std::string name;
  std::vector<int64_t> ne;  // ggml order: ne[0] = values per row (the fastest dim)
  uint32_t type = 0;        // ggml_type
  uint64_t offset = 0;      // relative to the data section
  uint64_t size = 0;        // bytes, from ne and the type's block layout
  // Row-major shape as glmq writes it ([out, in] for a weight): ne reversed.
  std::vector<int64_t> Shape() const { return {ne.rbegin(), ne.rend()}; }
};

// Name and block layout of every ggml type the reader can size (including
// the K-quants and IQ types glmq cannot decode), for validation and
// messages; nullptr if unknown.
struct BlockLayout {
  uint32_t type;
  absl::string_view name;
  int block_values;
  int block_bytes;
};
const BlockLayout* FindBlockLayout(uint32_t ggml_type);

class Cursor;  // gguf_reader.cc

class GgufFile {
 public:
  // Maps and validates `path`.
  static absl::StatusOr<std::unique_ptr<GgufFile>> Open(const std::string& path);
  // Validates `bytes` (kept by reference: they must outlive the object);
  // `name` stands for the file in errors.
  static absl::StatusOr<std::unique_ptr<GgufFile>> Parse(absl::Span<const uint8_t> bytes,
                                                         const std::string& name);

  const std::string& name() const { return name_; }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }
  const std::vector<std::pair<std::string, Value>>& kvs() const { return kvs_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }

  const Value* Find(absl::string_view key) const;
  const TensorInfo* FindTensor(absl::string_view name) const;
  // The tensor's bytes (inside the input).
  absl::Span<const uint8_t> TensorData(const TensorInfo& t) const;

  // Typed getters; the error names the file and key (missing or wrong type).
  absl::StatusOr<std::string> GetString(absl::string_view key) const;
  absl::StatusOr<int64_t> GetInt(absl::string_view key) const;   // any integer type
  absl::StatusOr<double> GetFloat(absl::string_view key) const;  // f32 or f64
  absl::StatusOr<const Value*> GetArray(absl::string_view key, ValueType elem) const;

 private:
  GgufFile() = default;
  absl::Status ParseAll();
  absl::Status ParseKvs(Cursor& c, uint64_t n_kv);
  absl::Status ParseTensorInfos(Cursor& c, uint64_t n_tensors);
  absl::Status CheckTensorData();

  std::string name_;
  std::unique_ptr<MappedFile> file_;  // when opened from a path
  absl::Span<const uint8_t> bytes_;
  uint32_t version_ = 0;
  uint32_t alignment_ = kDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, Value>> kvs_;
  absl::flat_hash_map<std::string, int> kv_index_;
  std::vector<TensorInfo> tensors_;
  absl::flat_hash_map<std::string, int> tensor_index_;
};

}  // namespace glmq::gguf
