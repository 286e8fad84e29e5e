// Plain element types and the bf16/f16 <-> f32 conversions everything uses.
// Quantized encodings live in quant/encodings.h, not here.
#pragma once

#include "absl/strings/string_view.h"
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace glmq {

enum class DType : uint8_t { kF32, kF16, kBF16, kI8, kU8, kI32, kI64, kF64, kBool };

struct DTypeTraits {
  DType dtype;
  absl::string_view name;             // our name: "f32", "bf16", ...
  absl::string_view safetensors_name; // "F32", "BF16", ...
  int size_bytes;
};

const DTypeTraits& Traits(DType t);
std::optional<DType> DTypeFromSafetensorsName(absl::string_view name);
std::optional<DType> DTypeFromName(absl::string_view name);
inline int DTypeSize(DType t) { return Traits(t).size_bytes; }

// bf16 is the top half of an f32; conversion rounds to nearest even and
// keeps NaN a (quiet) NaN.
inline float Bf16ToF32(uint16_t h) {
  uint32_t u = uint32_t{h} << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline uint16_t F32ToBf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

// IEEE half precision; rounds to nearest even, handles subnormals/inf/nan.
float F16ToF32(uint16_t h);
uint16_t F32ToF16(float f);

// Converts n elements of `src` (of type `from`) to f32. from is f32/f16/bf16.
void ConvertToF32(DType from, const void* src, float* dst, int64_t n);
// Converts n f32 values to `to` (f32/f16/bf16).
void ConvertFromF32(DType to, const float* src, void* dst, int64_t n);

// Index of the first NaN or +-Inf among n values of `dtype` (f32, f16 or
// bf16) at `p` (any alignment), or -1 if all are finite (or the dtype has
// no non-finite values).
int64_t FirstNonFinite(DType dtype, const void* p, int64_t n);

}  // namespace glmq
