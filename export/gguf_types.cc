#include "export/gguf_types.h"

#include <vector>

namespace glmq::gguf {
namespace {

// llama_ftype values: ALL_F32 0, MOSTLY_F16 1, MOSTLY_Q4_0 2, MOSTLY_Q4_1 3,
// MOSTLY_Q8_0 7, MOSTLY_BF16 32 (llama.h).
const std::vector<TensorTypeTraits>& Table() {
  static const auto* t = new std::vector<TensorTypeTraits>{
      {TensorType::kF32, "F32", 1, 4, pb::ENCODING_F32, 0, 0},
      {TensorType::kF16, "F16", 1, 2, pb::ENCODING_F16, 0, 1},
      {TensorType::kBF16, "BF16", 1, 2, pb::ENCODING_BF16, 0, 32},
      {TensorType::kQ8_0, "Q8_0", 32, 34, pb::ENCODING_Q8_SYM, 32, 7},   // f16 d, 32 x int8
      {TensorType::kQ4_0, "Q4_0", 32, 18, pb::ENCODING_Q4_SYM, 32, 2},   // f16 d, 16 B nibbles
      {TensorType::kQ4_1, "Q4_1", 32, 20, pb::ENCODING_Q4_ASYM, 32, 3},  // f16 d, f16 m, 16 B
  };
  return *t;
}

}  // namespace

int ScalarBytes(ValueType t) {
  switch (t) {
    case ValueType::kU8:
    case ValueType::kI8:
    case ValueType::kBool:
      return 1;
    case ValueType::kU16:
    case ValueType::kI16:
      return 2;
    case ValueType::kU32:
    case ValueType::kI32:
    case ValueType::kF32:
      return 4;
    case ValueType::kU64:
    case ValueType::kI64:
    case ValueType::kF64:
      return 8;
    case ValueType::kString:
    case ValueType::kArray:
      return 0;
  }
  return 0;
}

bool IsValidValueType(uint32_t t) { return t <= static_cast<uint32_t>(ValueType::kF64); }

const TensorTypeTraits* FindTensorType(uint32_t ggml_type) {
  for (const TensorTypeTraits& t : Table()) {
    if (static_cast<uint32_t>(t.type) == ggml_type) return &t;
  }
  return nullptr;
}

const TensorTypeTraits* TensorTypeForEncoding(pb::Encoding encoding) {
  for (const TensorTypeTraits& t : Table()) {
    if (t.glmq_encoding == encoding) return &t;
  }
  return nullptr;
}

uint64_t TypeRowBytes(const TensorTypeTraits& t, int64_t cols) {
  if (cols <= 0 || cols % t.block_values != 0) return 0;
  return static_cast<uint64_t>(cols / t.block_values) * t.block_bytes;
}

}  // namespace glmq::gguf
