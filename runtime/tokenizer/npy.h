// Minimal .npy reader for test data (little-endian int32, 1-D, C order).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace glmq::tok {

absl::StatusOr<std::vector<int32_t>> ReadNpyInt32(const std::string& path);

}  // namespace glmq::tok
