#include "export/hf_quant.h"

#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/dtype.h"
#include "core/status.h"
#include "quant/reference.h"
#include "schema/encodings.h"

namespace glmq::gguf {
namespace {

constexpr int kAwqOrder[8] = {0, 2, 4, 6, 1, 3, 5, 7};  // nibble i holds column order[i]

uint16_t ReadHalf(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return h;
}

}  // namespace

absl::StatusOr<Int4Matrix> Int4FromGlmq(const pb::TensorEntry& entry, const uint8_t* rows_data,
                                        int64_t n_rows, absl::string_view tensor) {
  const int64_t cols = entry.shape(entry.shape_size() - 1);
  const bool sym = entry.encoding() == pb::ENCODING_Q4_SYM;
  if (!sym && entry.encoding() != pb::ENCODING_Q4_ASYM) {
    const EncodingTraits* t = FindEncoding(entry.encoding());
    return absl::InvalidArgumentError(
        absl::StrCat("tensor '", tensor, "' is ", t ? t->name : "?",
                     "; AWQ/GPTQ hold 4-bit groups only "
                     "(quantize with --scheme int4-g128, which exports exactly)"));
  }
  GLMQ_ASSIGN_OR_RETURN(GroupGeometry geo,
                        GetGroupGeometry(entry.encoding(), entry.group_size(), cols));
  if (cols % geo.g != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor '", tensor, "': ", cols, " columns are not whole groups of ", geo.g));
  }
  Int4Matrix m;
  m.out = n_rows;
  m.in = cols;
  m.group = geo.g;
  m.q.resize(n_rows * cols);
  m.scales.resize(n_rows * geo.n_groups);
  m.zeros.resize(n_rows * geo.n_groups);
  for (int64_t r = 0; r < n_rows; ++r) {
    for (int64_t gi = 0; gi < geo.n_groups; ++gi) {
      const uint8_t* g = rows_data + r * geo.row_bytes + gi * geo.group_bytes;
      const uint16_t s16 = ReadHalf(g);
      int z = 8;
      if (!sym) {
        const float s = F16ToF32(s16), mn = F16ToF32(ReadHalf(g + 2));
        const float zf = s == 0 ? 0.f : -mn / s;
        z = static_cast<int>(std::lround(zf));
        if (z < 0 || z > 15 || -static_cast<float>(z) * s != mn) {
          return absl::InvalidArgumentError(absl::StrCat(
              "tensor '", tensor, "' row ", r, " group ", gi, ": q4a min ", mn,
              " is not -z * scale for an integer zero point z in [0, 15]; AWQ/GPTQ cannot hold "
              "it exactly (int4-g128, symmetric, exports exactly)"));
        }
      }
      m.scales[r * geo.n_groups + gi] = s16;
      m.zeros[r * geo.n_groups + gi] = static_cast<uint8_t>(z);
      const uint8_t* packed = g + geo.traits->group_header_bytes;
      for (int64_t k = 0; k < geo.g; ++k) {
        m.q[r * cols + gi * geo.g + k] =
            k < geo.g / 2 ? packed[k] & 0x0f : packed[k - geo.g / 2] >> 4;
      }
    }
  }
  return m;
}

absl::Status Int4ToGlmq(const Int4Matrix& m, pb::Encoding encoding, uint8_t* out,
                        absl::string_view tensor) {
  const int group_size = m.group == m.in ? 0 : static_cast<int>(m.group);
  GLMQ_ASSIGN_OR_RETURN(GroupGeometry geo, GetGroupGeometry(encoding, group_size, m.in));
  for (int64_t r = 0; r < m.out; ++r) {
    for (int64_t gi = 0; gi < m.groups(); ++gi) {
      uint8_t* g = out + r * geo.row_bytes + gi * geo.group_bytes;
      const uint16_t s16 = m.scales[r * m.groups() + gi];
      const int z = m.zeros[r * m.groups() + gi];
      std::memcpy(g, &s16, 2);
      if (encoding == pb::ENCODING_Q4_SYM && z != 8) {
        return absl::InvalidArgumentError(
            absl::StrCat("tensor '", tensor, "': zero point ", z, " in a symmetric (q4) tensor"));
      }
      if (encoding == pb::ENCODING_Q4_ASYM) {
        const float mn = -static_cast<float>(z) * F16ToF32(s16);
        const uint16_t m16 = F32ToF16(mn);
        if (F16ToF32(m16) != mn) {
          return absl::InvalidArgumentError(
              absl::StrCat("tensor '", tensor, "' row ", r, " group ", gi, ": -zero * scale = ", mn,
                           " is not an f16 value, so q4a cannot hold it exactly"));
        }
        std::memcpy(g + 2, &m16, 2);
      }
      uint8_t* packed = g + geo.traits->group_header_bytes;
      std::memset(packed, 0, geo.g / 2);
      for (int64_t k = 0; k < geo.g; ++k) {
        const uint8_t u = m.q[r * m.in + gi * geo.g + k];
        if (k < geo.g / 2)
          packed[k] |= u;
        else
          packed[k - geo.g / 2] |= static_cast<uint8_t>(u << 4);
      }
    }
  }
  return absl::OkStatus();
}

PackedInt4 PackInt4(const Int4Matrix& m, HfQuantFormat format) {
  PackedInt4 p;
  const int64_t ng = m.groups();
  p.scales.resize(ng * m.out);
  for (int64_t o = 0; o < m.out; ++o)
    for (int64_t gi = 0; gi < ng; ++gi) p.scales[gi * m.out + o] = m.scales[o * ng + gi];
  p.scales_shape = {ng, m.out};
  p.qzeros.assign(ng * (m.out / 8), 0);
  p.qzeros_shape = {ng, m.out / 8};
  for (int64_t gi = 0; gi < ng; ++gi)
    for (int64_t c = 0; c < m.out / 8; ++c) {
      uint32_t word = 0;
      for (int i = 0; i < 8; ++i) {
        const int64_t o = 8 * c + (format == HfQuantFormat::kAwq ? kAwqOrder[i] : i);
        const uint32_t z = m.zeros[o * ng + gi];
        word |= ((format == HfQuantFormat::kAwq ? z : (z - 1)) & 0xF) << (4 * i);
      }
      p.qzeros[gi * (m.out / 8) + c] = static_cast<int32_t>(word);
    }
  if (format == HfQuantFormat::kAwq) {
    p.qweight.assign(m.in * (m.out / 8), 0);
    p.qweight_shape = {m.in, m.out / 8};
    for (int64_t k = 0; k < m.in; ++k)
      for (int64_t c = 0; c < m.out / 8; ++c) {
        uint32_t word = 0;
        for (int i = 0; i < 8; ++i)
          word |= uint32_t{m.q[(8 * c + kAwqOrder[i]) * m.in + k]} << (4 * i);
        p.qweight[k * (m.out / 8) + c] = static_cast<int32_t>(word);
      }
    return p;
  }
  p.qweight.assign((m.in / 8) * m.out, 0);
  p.qweight_shape = {m.in / 8, m.out};
  for (int64_t i = 0; i < m.in / 8; ++i)
    for (int64_t o = 0; o < m.out; ++o) {
      uint32_t word = 0;
      for (int j = 0; j < 8; ++j) word |= uint32_t{m.q[o * m.in + 8 * i + j]} << (4 * j);
      p.qweight[i * m.out + o] = static_cast<int32_t>(word);
    }
  p.g_idx.resize(m.in);
  for (int64_t k = 0; k < m.in; ++k) p.g_idx[k] = static_cast<int32_t>(k / m.group);
  return p;
}

absl::StatusOr<Int4Matrix> UnpackInt4(HfQuantFormat format, const int32_t* qweight,
                                      const int32_t* qzeros, const uint16_t* scales, int64_t out,
                                      int64_t in, int64_t group, int64_t row_begin,
                                      int64_t row_end) {
  if (out % 8 != 0 || in % 8 != 0 || group <= 0 || in % group != 0 || row_begin < 0 ||
      row_end > out || row_begin > row_end) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad 4-bit shape: out ", out, ", in ", in, ", group ", group));
  }
  Int4Matrix m;
  m.out = row_end - row_begin;
  m.in = in;
  m.group = group;
  const int64_t ng = in / group;
  m.q.resize(m.out * in);
  m.scales.resize(m.out * ng);
  m.zeros.resize(m.out * ng);
  for (int64_t o = row_begin; o < row_end; ++o) {
    int nib = o % 8;  // nibble of output column o inside its word
    if (format == HfQuantFormat::kAwq) {
      nib = 0;
      while (kAwqOrder[nib] != o % 8) ++nib;
    }
    const int64_t r = o - row_begin;
    for (int64_t gi = 0; gi < ng; ++gi) {
      const uint32_t stored =
          (static_cast<uint32_t>(qzeros[gi * (out / 8) + o / 8]) >> (4 * nib)) & 0xF;
      if (format == HfQuantFormat::kGptq && stored == 15) {
        return absl::InvalidArgumentError(absl::StrCat(
            "row ", o, " group ", gi, ": GPTQ stored zero 15 (zero point 16) is outside 4 bits"));
      }
      m.zeros[r * ng + gi] =
          static_cast<uint8_t>(format == HfQuantFormat::kAwq ? stored : stored + 1);
      m.scales[r * ng + gi] = scales[gi * out + o];
    }
    for (int64_t k = 0; k < in; ++k) {
      const uint32_t word = format == HfQuantFormat::kAwq
                                ? static_cast<uint32_t>(qweight[k * (out / 8) + o / 8])
                                : static_cast<uint32_t>(qweight[(k / 8) * out + o]);
      const int shift = format == HfQuantFormat::kAwq ? 4 * nib : 4 * static_cast<int>(k % 8);
      m.q[r * in + k] = (word >> shift) & 0xF;
    }
  }
  return m;
}

void DequantizePacked(HfQuantFormat format, const PackedInt4& p, int64_t out, int64_t in,
                      int64_t group, float* w) {
  // AutoAWQ shifts per output column j of a word: [0, 16, 4, 20, 8, 24, 12, 28].
  static constexpr int kAwqShift[8] = {0, 16, 4, 20, 8, 24, 12, 28};
  for (int64_t k = 0; k < in; ++k) {
    const int64_t gi = format == HfQuantFormat::kGptq ? p.g_idx[k] : k / group;
    for (int64_t o = 0; o < out; ++o) {
      const uint32_t zw = static_cast<uint32_t>(p.qzeros[gi * (out / 8) + o / 8]);
      int q, z;
      if (format == HfQuantFormat::kAwq) {
        q = (static_cast<uint32_t>(p.qweight[k * (out / 8) + o / 8]) >> kAwqShift[o % 8]) & 0xF;
        z = (zw >> kAwqShift[o % 8]) & 0xF;
      } else {
        q = (static_cast<uint32_t>(p.qweight[(k / 8) * out + o]) >> (4 * (k % 8))) & 0xF;
        z = ((zw >> (4 * (o % 8))) & 0xF) + 1;
      }
      w[o * in + k] = static_cast<float>(q - z) * F16ToF32(p.scales[gi * out + o]);
    }
  }
}

}  // namespace glmq::gguf
