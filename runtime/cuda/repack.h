// The GPU layout of a group-quantized weight (q8, q4, q4a; every group size
// glmq writes) and its load-time repack from the file's layout
// (specs/encodings.md). The file interleaves headers and values per group;
// the GPU reads planes so that a warp's loads are coalesced and 16-byte
// aligned whatever the group size:
//
//   values  [rows, row_values], row_values = round_up(n_groups * g, 32):
//           q8: one int8 per value;
//           q4/q4a: 16 bytes per 32 values, byte j of chunk k holding value
//           32k + j in its low nibble and 32k + 16 + j in its high nibble
//           (for g = 32 this is the file's own order); zero beyond n_groups*g
//   scales  [rows, n_groups] f16
//   mins    [rows, n_groups] f16 (q4a only)
//
// Each plane starts at a multiple of kGpuPlaneAlign bytes of one device
// allocation. Decoded value (r, c) = scale[r, c / g] * (q - offset) + min,
// with q the stored int8 (q8) or nibble (q4, q4a), offset 8 for q4, else 0,
// min 0 unless q4a. The bytes (GpuQuantLayout::total_bytes) are what the
// CUDA runtime holds for the tensor: q4-g32 costs the same as the file,
// the padding of a row to whole 32-value chunks and the plane alignment add
// at most 31 values per row and 2 * 255 bytes per tensor.
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "schema/glmq.pb.h"
#include "schema/weight.h"

namespace glmq::cuda {

inline constexpr int64_t kGpuChunkValues = 32;
inline constexpr uint64_t kGpuPlaneAlign = 256;

struct GpuQuantLayout {
  pb::Encoding encoding = pb::ENCODING_UNSPECIFIED;
  int bits = 0;            // 8 or 4
  int value_offset = 0;    // q4: 8
  bool has_min = false;    // q4a
  int64_t rows = 0, cols = 0;
  int64_t g = 0;           // values per group (padding included)
  int64_t n_groups = 0;    // per row
  int64_t row_values = 0;  // multiple of kGpuChunkValues
  int64_t row_value_bytes = 0;
  uint64_t scales_offset = 0;  // bytes from the start of the allocation
  uint64_t mins_offset = 0;    // == total_bytes when there are no mins
  uint64_t total_bytes = 0;
};

// The layout of a [rows, cols] tensor in a quantized encoding. Error naming
// the encoding for a dense one or a bad group size.
absl::StatusOr<GpuQuantLayout> MakeGpuQuantLayout(pb::Encoding encoding, int group_size,
                                                  int64_t rows, int64_t cols);

// Bytes the CUDA runtime holds for a weight: the repacked layout for a
// quantized encoding, the file's bytes for a dense one.
absl::StatusOr<uint64_t> GpuWeightBytes(pb::Encoding encoding, int group_size, int64_t rows,
                                        int64_t cols);

// Repacks rows [r0, r1) of `w` (its layout: `layout`) into the three
// planes' slices for those rows: values (r1 - r0) * row_value_bytes bytes,
// scales and mins (r1 - r0) * n_groups f16 each (mins may be null unless
// has_min). The slices are what goes at offsets r0 * row_value_bytes,
// scales_offset + 2 r0 n_groups, mins_offset + 2 r0 n_groups.
void RepackRows(const WeightView& w, const GpuQuantLayout& layout, int64_t r0, int64_t r1,
                uint8_t* values, uint16_t* scales, uint16_t* mins);

// Host reference of the GPU decode: value (r, c) of a whole repacked
// image (total_bytes). Tests check it equals quant/dequantize.h.
float RepackedValue(const GpuQuantLayout& layout, const uint8_t* image, int64_t r, int64_t c);

// Rows [r0, r1) the staging buffer of `staging_bytes` holds at once when
// streaming a repack from r0 (at least one row).
int64_t RowsPerSlice(const GpuQuantLayout& layout, uint64_t staging_bytes);

}  // namespace glmq::cuda
