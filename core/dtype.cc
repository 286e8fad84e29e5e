#include "core/dtype.h"

#include <algorithm>
#include <array>
#include <cassert>

namespace glmq {
namespace {

constexpr std::array<DTypeTraits, 9> kTraits = {{
    {DType::kF32, "f32", "F32", 4},
    {DType::kF16, "f16", "F16", 2},
    {DType::kBF16, "bf16", "BF16", 2},
    {DType::kI8, "i8", "I8", 1},
    {DType::kU8, "u8", "U8", 1},
    {DType::kI32, "i32", "I32", 4},
    {DType::kI64, "i64", "I64", 8},
    {DType::kF64, "f64", "F64", 8},
    {DType::kBool, "bool", "BOOL", 1},
}};

}  // namespace

const DTypeTraits& Traits(DType t) {
  const auto& tr = kTraits[static_cast<size_t>(t)];
  assert(tr.dtype == t);
  return tr;
}

std::optional<DType> DTypeFromSafetensorsName(absl::string_view name) {
  for (const auto& t : kTraits)
    if (t.safetensors_name == name) return t.dtype;
  return std::nullopt;
}

std::optional<DType> DTypeFromName(absl::string_view name) {
  for (const auto& t : kTraits)
    if (t.name == name) return t.dtype;
  return std::nullopt;
}

float F16ToF32(uint16_t h) {
  const uint32_t sign = uint32_t{h & 0x8000u} << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t u;
  if (exp == 0) {
    if (mant == 0) {
      u = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        mant <<= 1;
        ++e;
      } while ((mant & 0x400) == 0);
      u = sign | uint32_t(127 - 15 - e) << 23 | (mant & 0x3ff) << 13;
    }
  } else if (exp == 31) {
    u = sign | 0x7f800000u | mant << 13;
  } else {
    u = sign | (exp + 112) << 23 | mant << 13;
  }
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

uint16_t F32ToF16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const uint32_t abs = u & 0x7fffffffu;
  if (abs > 0x7f800000u) return sign | 0x7e00;   // NaN
  if (abs >= 0x477ff000u) return sign | 0x7c00;  // overflow (incl. rounding) -> inf
  if (abs < 0x38800000u) {                       // subnormal or zero in f16
    if (abs < 0x33000000u) return sign;          // below half the smallest subnormal
    const uint32_t e = abs >> 23;
    const uint32_t m = (abs & 0x7fffff) | 0x800000;
    const int shift = 126 - static_cast<int>(e);  // 14..24
    uint32_t r = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (r & 1))) ++r;
    return sign | static_cast<uint16_t>(r);
  }
  uint32_t r = abs - 0x38000000u;  // rebias exponent 127 -> 15
  r += 0xfff + ((r >> 13) & 1);
  return sign | static_cast<uint16_t>(r >> 13);
}

void ConvertToF32(DType from, const void* src, float* dst, int64_t n) {
  switch (from) {
    case DType::kF32:
      std::memcpy(dst, src, n * 4);
      return;
    case DType::kBF16: {
      const auto* s = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = Bf16ToF32(s[i]);
      return;
    }
    case DType::kF16: {
      const auto* s = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = F16ToF32(s[i]);
      return;
    }
    default:
      assert(false && "ConvertToF32: not a float type");
  }
}

void ConvertFromF32(DType to, const float* src, void* dst, int64_t n) {
  switch (to) {
    case DType::kF32:
      std::memcpy(dst, src, n * 4);
      return;
    case DType::kBF16: {
      auto* d = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) d[i] = F32ToBf16(src[i]);
      return;
    }
    case DType::kF16: {
      auto* d = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) d[i] = F32ToF16(src[i]);
      return;
    }
    default:
      assert(false && "ConvertFromF32: not a float type");
  }
}

int64_t FirstNonFinite(DType dtype, const void* data, int64_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  if (dtype == DType::kF32) {
    for (int64_t i = 0; i < n; ++i) {
      uint32_t u;
      std::memcpy(&u, p + 4 * i, 4);
      if ((u & 0x7f800000u) == 0x7f800000u) return i;
    }
    return -1;
  }
  if (dtype != DType::kF16 && dtype != DType::kBF16) return -1;
  const uint16_t mask = dtype == DType::kBF16 ? 0x7f80 : 0x7c00;
  // Branch-free OR-reduction per block (it vectorizes); locate the value
  // only on a hit.
  constexpr int64_t kBlock = 4096;
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t e = std::min(n, b + kBlock);
    bool hit = false;
    for (int64_t i = b; i < e; ++i) {
      uint16_t h;
      std::memcpy(&h, p + 2 * i, 2);
      hit |= (h & mask) == mask;
    }
    if (!hit) continue;
    for (int64_t i = b; i < e; ++i) {
      uint16_t h;
      std::memcpy(&h, p + 2 * i, 2);
      if ((h & mask) == mask) return i;
    }
  }
  return -1;
}

}  // namespace glmq
