// XXH64 (seed 0): the checksum of every tensor and of the metadata in a
// .glmq file. Chosen for speed (~10 GB/s per core, faster than any disk we
// read from) and because it is a published, stable algorithm that other
// tools can reproduce. Not a cryptographic hash.
#pragma once

#include "absl/strings/string_view.h"
#include <cstdint>
#include <string>
#include <string_view>

namespace glmq {

// Streaming XXH64. Not thread-safe; one object per stream.
class Xxh64 {
 public:
  explicit Xxh64(uint64_t seed = 0);
  void Update(const void* data, uint64_t size);
  uint64_t Digest() const;

 private:
  uint64_t v_[4];
  uint64_t total_ = 0;
  uint8_t buf_[32];
  uint32_t buf_size_ = 0;
  uint64_t seed_;
};

uint64_t XxHash64(const void* data, uint64_t size, uint64_t seed = 0);
inline uint64_t XxHash64(absl::string_view s) { return XxHash64(s.data(), s.size()); }
// 16 lowercase hex digits.
std::string HexU64(uint64_t v);

}  // namespace glmq
