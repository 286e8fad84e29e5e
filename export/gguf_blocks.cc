#include "export/gguf_blocks.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/dtype.h"
#include "core/status.h"
#include "schema/encodings.h"

namespace glmq::gguf {
namespace {

constexpr int kBlock = 32;

float HalfToFloat(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return F16ToF32(h);
}

// The 4-bit code of value k of a glmq group of g values (specs/encodings.md).
inline uint8_t GlmqNibble(const uint8_t* packed, int64_t g, int64_t k) {
  return k < g / 2 ? packed[k] & 0x0f : packed[k - g / 2] >> 4;
}

}  // namespace

bool MapsToBlocks(pb::Encoding encoding, int group_size, int64_t cols) {
  const EncodingTraits* t = FindEncoding(encoding);
  return t != nullptr && t->quantized && cols % kBlock == 0 && group_size % kBlock == 0 &&
         TensorTypeForEncoding(encoding) != nullptr;
}

absl::Status GlmqRowsToBlocks(pb::Encoding encoding, int group_size, int64_t cols,
                              const uint8_t* in, int64_t rows, uint8_t* out) {
  if (!MapsToBlocks(encoding, group_size, cols)) {
    return absl::InvalidArgumentError(absl::StrCat("encoding ", encoding, " g", group_size,
                                                   " with ", cols,
                                                   " columns has no ggml block form"));
  }
  GLMQ_ASSIGN_OR_RETURN(GroupGeometry geo, GetGroupGeometry(encoding, group_size, cols));
  const TensorTypeTraits& type = *TensorTypeForEncoding(encoding);
  const int header = geo.traits->group_header_bytes;
  const int64_t blocks = cols / kBlock;
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* row = in + r * geo.row_bytes;
    uint8_t* dst = out + r * blocks * type.block_bytes;
    for (int64_t b = 0; b < blocks; ++b, dst += type.block_bytes) {
      const int64_t v0 = b * kBlock;
      const uint8_t* group = row + (v0 / geo.g) * geo.group_bytes;
      const uint8_t* packed = group + header;
      const int64_t o = v0 % geo.g;  // first value of the block inside its group
      std::memcpy(dst, group, header);
      if (encoding == pb::ENCODING_Q8_SYM) {
        std::memcpy(dst + header, packed + o, kBlock);
        continue;
      }
      for (int j = 0; j < kBlock / 2; ++j) {
        dst[header + j] = static_cast<uint8_t>(GlmqNibble(packed, geo.g, o + j) |
                                               GlmqNibble(packed, geo.g, o + j + 16) << 4);
      }
    }
  }
  return absl::OkStatus();
}

absl::Status BlocksToGlmqRows(pb::Encoding encoding, int group_size, int64_t cols,
                              const uint8_t* in, int64_t rows, uint8_t* out) {
  if (!MapsToBlocks(encoding, group_size, cols)) {
    return absl::InvalidArgumentError(absl::StrCat("encoding ", encoding, " g", group_size,
                                                   " with ", cols,
                                                   " columns has no ggml block form"));
  }
  GLMQ_ASSIGN_OR_RETURN(GroupGeometry geo, GetGroupGeometry(encoding, group_size, cols));
  const TensorTypeTraits& type = *TensorTypeForEncoding(encoding);
  const int header = geo.traits->group_header_bytes;
  const int64_t per_group = geo.g / kBlock;
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* blocks = in + r * (cols / kBlock) * type.block_bytes;
    uint8_t* row = out + r * geo.row_bytes;
    for (int64_t gi = 0; gi < geo.n_groups; ++gi) {
      const uint8_t* first = blocks + gi * per_group * type.block_bytes;
      uint8_t* group = row + gi * geo.group_bytes;
      std::memcpy(group, first, header);
      uint8_t* packed = group + header;
      if (encoding != pb::ENCODING_Q8_SYM) std::memset(packed, 0, geo.g / 2);
      for (int64_t b = 0; b < per_group; ++b) {
        const uint8_t* blk = first + b * type.block_bytes;
        if (std::memcmp(blk, first, header) != 0) {
          return absl::InvalidArgumentError(
              absl::StrCat("row ", r, ", group ", gi,
                           ": its blocks of 32 have different scales, so they "
                           "are not one group of ",
                           geo.g));
        }
        for (int j = 0; j < kBlock; ++j) {
          const int64_t k = b * kBlock + j;  // value inside the group
          if (encoding == pb::ENCODING_Q8_SYM) {
            packed[k] = blk[header + j];
            continue;
          }
          const uint8_t nib = j < 16 ? blk[header + j] & 0x0f : blk[header + j - 16] >> 4;
          if (k < geo.g / 2)
            packed[k] |= nib;
          else
            packed[k - geo.g / 2] |= static_cast<uint8_t>(nib << 4);
        }
      }
    }
  }
  return absl::OkStatus();
}

absl::Status DequantizeGgml(TensorType type, const uint8_t* data, int64_t n, float* out) {
  switch (type) {
    case TensorType::kF32:
      std::memcpy(out, data, n * 4);
      return absl::OkStatus();
    case TensorType::kF16:
      ConvertToF32(DType::kF16, data, out, n);
      return absl::OkStatus();
    case TensorType::kBF16:
      ConvertToF32(DType::kBF16, data, out, n);
      return absl::OkStatus();
    default:
      break;
  }
  if (n % kBlock != 0) return absl::InvalidArgumentError("DequantizeGgml: n % 32 != 0");
  for (int64_t b = 0; b < n / kBlock; ++b, out += kBlock) {
    if (type == TensorType::kQ8_0) {  // block_q8_0 { ggml_half d; int8_t qs[32]; }
      const uint8_t* x = data + b * 34;
      const float d = HalfToFloat(x);
      for (int j = 0; j < kBlock; ++j) out[j] = static_cast<int8_t>(x[2 + j]) * d;
    } else if (type == TensorType::kQ4_0) {  // block_q4_0 { ggml_half d; uint8_t qs[16]; }
      const uint8_t* x = data + b * 18;
      const float d = HalfToFloat(x);
      for (int j = 0; j < kBlock / 2; ++j) {
        const int x0 = (x[2 + j] & 0x0F) - 8, x1 = (x[2 + j] >> 4) - 8;
        out[j] = x0 * d;
        out[j + kBlock / 2] = x1 * d;
      }
    } else if (type == TensorType::kQ4_1) {  // block_q4_1 { ggml_half d, m; uint8_t qs[16]; }
      const uint8_t* x = data + b * 20;
      const float d = HalfToFloat(x), m = HalfToFloat(x + 2);
      for (int j = 0; j < kBlock / 2; ++j) {
        const int x0 = x[4 + j] & 0x0F, x1 = x[4 + j] >> 4;
        out[j] = x0 * d + m;
        out[j + kBlock / 2] = x1 * d + m;
      }
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("DequantizeGgml: type ", static_cast<int>(type)));
    }
  }
  return absl::OkStatus();
}

}  // namespace glmq::gguf
