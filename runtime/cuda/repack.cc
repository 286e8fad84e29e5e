#include "runtime/cuda/repack.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/dtype.h"
#include "core/status.h"
#include "quant/reference.h"
#include "schema/encodings.h"

namespace glmq::cuda {
namespace {

uint64_t AlignUp(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

}  // namespace

absl::StatusOr<GpuQuantLayout> MakeGpuQuantLayout(pb::Encoding encoding, int group_size,
                                                  int64_t rows, int64_t cols) {
  const EncodingTraits* t = FindEncoding(encoding);
  if (t == nullptr || !t->quantized) {
    return absl::InvalidArgumentError(absl::StrCat("GPU repack: encoding ", encoding,
                                                   " is not group-quantized"));
  }
  if (rows <= 0) return absl::InvalidArgumentError(absl::StrCat("GPU repack: rows ", rows));
  GLMQ_ASSIGN_OR_RETURN(const GroupGeometry geo, GetGroupGeometry(encoding, group_size, cols));
  GpuQuantLayout l;
  l.encoding = encoding;
  l.bits = t->value_bits;
  l.value_offset = t->value_offset;
  l.has_min = t->has_min;
  l.rows = rows;
  l.cols = cols;
  l.g = geo.g;
  l.n_groups = geo.n_groups;
  l.row_values = (geo.n_groups * geo.g + kGpuChunkValues - 1) / kGpuChunkValues * kGpuChunkValues;
  l.row_value_bytes = l.row_values * l.bits / 8;
  const uint64_t header = static_cast<uint64_t>(rows) * l.n_groups * 2;
  l.scales_offset = AlignUp(static_cast<uint64_t>(rows) * l.row_value_bytes, kGpuPlaneAlign);
  l.mins_offset = AlignUp(l.scales_offset + header, kGpuPlaneAlign);
  l.total_bytes = l.has_min ? l.mins_offset + header : l.scales_offset + header;
  if (!l.has_min) l.mins_offset = l.total_bytes;
  return l;
}

absl::StatusOr<uint64_t> GpuWeightBytes(pb::Encoding encoding, int group_size, int64_t rows,
                                        int64_t cols) {
  DType dt;
  if (DenseDType(encoding, &dt)) return static_cast<uint64_t>(rows * cols) * DTypeSize(dt);
  GLMQ_ASSIGN_OR_RETURN(const GpuQuantLayout l,
                        MakeGpuQuantLayout(encoding, group_size, rows, cols));
  return l.total_bytes;
}

void RepackRows(const WeightView& w, const GpuQuantLayout& l, int64_t r0, int64_t r1,
                uint8_t* values, uint16_t* scales, uint16_t* mins) {
  const GroupGeometry geo = GetGroupGeometry(l.encoding, w.group_size, l.cols).value();
  std::vector<int8_t> q(l.row_values, 0);
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = w.data + r * geo.row_bytes;
    std::fill(q.begin(), q.end(), 0);
    for (int64_t gi = 0; gi < l.n_groups; ++gi) {
      const uint8_t* grp = row + gi * geo.group_bytes;
      UnpackGroup(geo, grp, q.data() + gi * l.g);
      uint16_t s16, m16 = 0;
      std::memcpy(&s16, grp, 2);
      if (l.has_min) std::memcpy(&m16, grp + 2, 2);
      scales[(r - r0) * l.n_groups + gi] = s16;
      if (l.has_min) mins[(r - r0) * l.n_groups + gi] = m16;
    }
    uint8_t* out = values + (r - r0) * l.row_value_bytes;
    if (l.bits == 8) {
      std::memcpy(out, q.data(), l.row_values);
      continue;
    }
    // UnpackGroup gives signed values q - offset for q4; store the nibble.
    const int off = l.value_offset;
    const int64_t used = l.n_groups * l.g;
    auto nib = [&](int64_t i) { return i < used ? static_cast<uint8_t>(q[i] + off) & 0x0f : 0; };
    for (int64_t k = 0; k < l.row_values / kGpuChunkValues; ++k) {
      for (int j = 0; j < 16; ++j) {
        out[k * 16 + j] = static_cast<uint8_t>(nib(32 * k + j) | (nib(32 * k + 16 + j) << 4));
      }
    }
  }
}

float RepackedValue(const GpuQuantLayout& l, const uint8_t* image, int64_t r, int64_t c) {
  const uint8_t* vals = image + r * l.row_value_bytes;
  int q;
  if (l.bits == 8) {
    q = static_cast<int8_t>(vals[c]);
  } else {
    const uint8_t b = vals[(c / 32) * 16 + (c % 16)];
    q = (c % 32) < 16 ? (b & 0x0f) : (b >> 4);
  }
  const int64_t gi = r * l.n_groups + c / l.g;
  uint16_t s16, m16 = 0;
  std::memcpy(&s16, image + l.scales_offset + 2 * gi, 2);
  if (l.has_min) std::memcpy(&m16, image + l.mins_offset + 2 * gi, 2);
  const float m = l.has_min ? F16ToF32(m16) : 0.f;
  return F16ToF32(s16) * static_cast<float>(q - l.value_offset) + m;
}

int64_t RowsPerSlice(const GpuQuantLayout& l, uint64_t staging_bytes) {
  const uint64_t per_row = l.row_value_bytes + 2 * l.n_groups * (l.has_min ? 2 : 1);
  return std::clamp<int64_t>(static_cast<int64_t>(staging_bytes / per_row), 1, l.rows);
}

}  // namespace glmq::cuda
