// float32 .npy arrays (little-endian, C order): reading the fixtures'
// pixel tensors and writing logits (glmq logits).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace glmq {

struct NpyF32 {
  std::vector<int64_t> shape;
  std::vector<float> data;  // C order
};

// A '<f4' C-order .npy (version 1-3) held in `bytes`; `where` names it in
// errors.
absl::StatusOr<NpyF32> ParseNpyF32(const std::string& bytes, const std::string& where);
absl::StatusOr<NpyF32> ReadNpyF32(const std::string& path);
// An '<i4' .npy of any shape, flattened (token ids, positions).
absl::StatusOr<std::vector<int32_t>> ReadNpyI32(const std::string& path);

// A version-1 .npy of `shape` holding `data` (product of shape floats).
std::string NpyF32Bytes(const std::vector<int64_t>& shape, const float* data);
absl::Status WriteNpyF32(const std::string& path, const std::vector<int64_t>& shape,
                         const float* data);

}  // namespace glmq
