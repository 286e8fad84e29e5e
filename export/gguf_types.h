// GGUF (llama.cpp's model file, version 3) constants and the table of the
// ggml tensor types glmq reads and writes. The block layouts are ggml's
// (ggml/src/ggml-common.h); docs/export.md says how glmq's encodings map.
#pragma once

#include <cstdint>

#include "absl/strings/string_view.h"
#include "schema/glmq.pb.h"

namespace glmq::gguf {

inline constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
inline constexpr uint32_t kVersion = 3;
inline constexpr uint32_t kDefaultAlignment = 32;  // when general.alignment is absent

// glmq's own key (i32 array, one per tensor in tensor-info order): the glmq
// group size a Q8_0 / Q4_0 / Q4_1 tensor was exported from (0 = one group
// per row), -1 for other tensors. Absent in files glmq did not write.
inline constexpr char kGroupSizesKey[] = "glmq.tensor_group_sizes";

// Metadata value types (gguf_type).
enum class ValueType : uint32_t {
  kU8 = 0,
  kI8 = 1,
  kU16 = 2,
  kI16 = 3,
  kU32 = 4,
  kI32 = 5,
  kF32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kU64 = 10,
  kI64 = 11,
  kF64 = 12,
};
// Bytes of one scalar value; 0 for string and array.
int ScalarBytes(ValueType t);
bool IsValidValueType(uint32_t t);

// ggml_type ids of the tensor types glmq handles.
enum class TensorType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ8_0 = 8,
  kBF16 = 30
};

struct TensorTypeTraits {
  TensorType type;
  absl::string_view name;  // "Q4_0", as llama.cpp prints it
  int block_values;        // values per block (1 for dense types)
  int block_bytes;         // bytes per block
  // The glmq encoding whose g32 rows are byte-identical to rows of this type
  // (specs/encodings.md): Q8_0 = q8, Q4_0 = q4, Q4_1 = q4a; dense = itself.
  pb::Encoding glmq_encoding;
  int glmq_group_size;  // 32 for the block types, 0 for dense
  uint32_t file_type;   // llama_ftype "mostly" value for general.file_type
};

// nullptr for a type glmq does not handle (K-quants, IQ*, ...).
const TensorTypeTraits* FindTensorType(uint32_t ggml_type);
// The GGUF type that stores a glmq encoding exactly, or nullptr (i32).
const TensorTypeTraits* TensorTypeForEncoding(pb::Encoding encoding);

// Bytes of a row of `cols` values; error value 0 if cols is not a multiple
// of the block size.
uint64_t TypeRowBytes(const TensorTypeTraits& t, int64_t cols);

}  // namespace glmq::gguf
