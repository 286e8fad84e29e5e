// A non-owning view of a dense tensor in one of the plain dtypes.
#pragma once

#include "absl/strings/string_view.h"
#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace glmq {

struct TensorView {
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;  // row-major; [out_features, in_features] for weights
  const void* data = nullptr;

  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  uint64_t nbytes() const { return static_cast<uint64_t>(numel()) * DTypeSize(dtype); }
};

// "[4608, 4096]".
std::string ShapeString(const std::vector<int64_t>& shape);

}  // namespace glmq
