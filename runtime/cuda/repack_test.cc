// The GPU weight layout: the repacked image decodes to exactly what the
// reference dequantizer gives for every quantized encoding and group size
// glmq writes (odd widths and per-row groups included), streamed in slices
// of any size; the bytes are as repack.h states.
#include "runtime/cuda/repack.h"

#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "quant/dequantize.h"
#include "quant/reference.h"
#include "schema/encodings.h"

namespace glmq::cuda {
namespace {

struct Case {
  pb::Encoding enc;
  int g;
  int64_t rows, cols;
};

std::vector<uint8_t> QuantizedRows(const Case& c) {
  const GroupGeometry geo = GetGroupGeometry(c.enc, c.g, c.cols).value();
  std::vector<uint8_t> bytes(geo.row_bytes * c.rows);
  std::mt19937 rng(c.rows * 131 + c.cols + c.g);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> x(c.cols);
  for (int64_t r = 0; r < c.rows; ++r) {
    for (float& v : x) v = nd(rng) + (r % 3 == 0 ? 0.5f : 0.f);
    QuantizeRowRef(geo, x.data(), c.cols, bytes.data() + r * geo.row_bytes);
  }
  return bytes;
}

// The whole image, repacked in slices of `slice` rows as the upload does.
std::vector<uint8_t> Repack(const WeightView& w, const GpuQuantLayout& l, int64_t slice) {
  std::vector<uint8_t> image(l.total_bytes, 0);
  for (int64_t r0 = 0; r0 < l.rows; r0 += slice) {
    const int64_t r1 = std::min(l.rows, r0 + slice);
    std::vector<uint8_t> v((r1 - r0) * l.row_value_bytes);
    std::vector<uint16_t> s((r1 - r0) * l.n_groups), m(s.size());
    RepackRows(w, l, r0, r1, v.data(), s.data(), m.data());
    std::copy(v.begin(), v.end(), image.begin() + r0 * l.row_value_bytes);
    std::memcpy(image.data() + l.scales_offset + 2 * r0 * l.n_groups, s.data(), 2 * s.size());
    if (l.has_min) {
      std::memcpy(image.data() + l.mins_offset + 2 * r0 * l.n_groups, m.data(), 2 * m.size());
    }
  }
  return image;
}

TEST(RepackTest, DecodesAsTheReferenceForEveryEncodingAndGroup) {
  const std::vector<Case> cases = {
      {pb::ENCODING_Q8_SYM, 32, 5, 96},   {pb::ENCODING_Q8_SYM, 128, 3, 256},
      {pb::ENCODING_Q8_SYM, 0, 4, 77},    {pb::ENCODING_Q4_SYM, 32, 6, 64},
      {pb::ENCODING_Q4_SYM, 64, 3, 192},  {pb::ENCODING_Q4_SYM, 128, 2, 300},
      {pb::ENCODING_Q4_SYM, 0, 3, 45},    {pb::ENCODING_Q4_ASYM, 32, 4, 96},
      {pb::ENCODING_Q4_ASYM, 64, 3, 128}, {pb::ENCODING_Q4_ASYM, 128, 5, 256},
      {pb::ENCODING_Q4_ASYM, 0, 2, 33},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << pb::Encoding_Name(c.enc) << " g" << c.g << " [" << c.rows
                                    << ", " << c.cols << "]");
    const std::vector<uint8_t> bytes = QuantizedRows(c);
    const WeightView w = MakeWeightView("t", c.enc, c.g, {c.rows, c.cols}, bytes.data(),
                                        bytes.size())
                             .value();
    const GpuQuantLayout l = MakeGpuQuantLayout(c.enc, c.g, c.rows, c.cols).value();
    EXPECT_EQ(l.row_values % kGpuChunkValues, 0);
    EXPECT_EQ(l.scales_offset % kGpuPlaneAlign, 0u);
    EXPECT_EQ(l.mins_offset % kGpuPlaneAlign, l.has_min ? 0u : l.mins_offset % kGpuPlaneAlign);
    std::vector<float> ref(c.rows * c.cols);
    ASSERT_TRUE(DequantizeRows(c.enc, c.g, c.rows, c.cols, bytes, 0, c.rows, ref.data()).ok());
    for (int64_t slice : {int64_t{1}, int64_t{2}, c.rows}) {
      const std::vector<uint8_t> image = Repack(w, l, slice);
      for (int64_t r = 0; r < c.rows; ++r) {
        for (int64_t col = 0; col < c.cols; ++col) {
          ASSERT_EQ(RepackedValue(l, image.data(), r, col), ref[r * c.cols + col])
              << "r " << r << " c " << col << " slice " << slice;
        }
      }
    }
  }
}

TEST(RepackTest, BytesAreTheFilesPlusRowPaddingAndAlignment) {
  // q4-g128 of a 4096 x 4096 matrix: values 8 MiB, scales 256 KiB.
  const GpuQuantLayout l = MakeGpuQuantLayout(pb::ENCODING_Q4_SYM, 128, 4096, 4096).value();
  EXPECT_EQ(l.row_value_bytes, 2048);
  EXPECT_EQ(l.scales_offset, 4096u * 2048);
  EXPECT_EQ(l.total_bytes, 4096u * 2048 + 4096u * 32 * 2);
  EXPECT_EQ(l.total_bytes, EncodedBytes(pb::ENCODING_Q4_SYM, 128, {4096, 4096}).value());
  const GpuQuantLayout a = MakeGpuQuantLayout(pb::ENCODING_Q4_ASYM, 32, 10, 64).value();
  EXPECT_EQ(a.scales_offset, 512u);  // 10 * 32 bytes of values, aligned to 256
  EXPECT_EQ(a.mins_offset, 768u);
  EXPECT_EQ(a.total_bytes, 768u + 10 * 2 * 2);
  EXPECT_EQ(GpuWeightBytes(pb::ENCODING_BF16, 0, 3, 5).value(), 30u);
  EXPECT_FALSE(MakeGpuQuantLayout(pb::ENCODING_BF16, 0, 3, 5).ok());
  EXPECT_FALSE(MakeGpuQuantLayout(pb::ENCODING_Q4_SYM, 48, 3, 96).ok());
}

TEST(RepackTest, SlicesFitTheStagingBuffer) {
  const GpuQuantLayout l = MakeGpuQuantLayout(pb::ENCODING_Q8_SYM, 32, 1000, 4096).value();
  const int64_t per = RowsPerSlice(l, 1 << 20);
  EXPECT_GE(per, 1);
  EXPECT_LE(per * (l.row_value_bytes + 2 * l.n_groups), 1 << 20);
  EXPECT_EQ(RowsPerSlice(l, 1), 1);
  EXPECT_EQ(RowsPerSlice(l, uint64_t{1} << 40), 1000);
}

}  // namespace
}  // namespace glmq::cuda
