// Byte layout goldens, round-trip bounds and scale-search properties of the
// reference quantizers.
#include <cmath>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "quant/dequantize.h"
#include "schema/encodings.h"
#include "quant/quantize.h"
#include "quant/reference.h"

namespace glmq {
namespace {

using ::testing::ElementsAreArray;

std::vector<uint8_t> QuantRef(pb::Encoding e, int g, const std::vector<float>& x) {
  GroupGeometry geo = *GetGroupGeometry(e, g, x.size());
  std::vector<uint8_t> out(geo.row_bytes, 0xAA);
  QuantizeRowRef(geo, x.data(), x.size(), out.data());
  return out;
}

TEST(Golden, Q8G32RaggedRow) {
  std::vector<uint8_t> want = {0x00, 0x3C, 0x7F, 0xFF, 0x00};  // d = 1.0, q = 127, -1, 0
  want.resize(34, 0x00);                                          // 29 zero-padded values
  EXPECT_THAT(QuantRef(pb::ENCODING_Q8_SYM, 32, {127.f, -1.f, 0.5f}), ElementsAreArray(want));
}

TEST(Golden, Q4PerRowLowNibbleFirstHalf) {
  // g = 6: byte i = nibble(i) | nibble(i + 3) << 4, nibble = q + 8.
  const std::vector<uint8_t> want = {0x00, 0x3C, 0xF1, 0x59, 0x8A};
  EXPECT_THAT(QuantRef(pb::ENCODING_Q4_SYM, 0, {-7, 1, 2, 7, -3, 0}), ElementsAreArray(want));
  // cols = 5 pads the per-row group to 6; the pad is q = 0 (nibble 8).
  EXPECT_THAT(QuantRef(pb::ENCODING_Q4_SYM, 0, {-7, 1, 2, 7, -3}), ElementsAreArray(want));
}

TEST(Golden, Q4AsymScaleThenMin) {
  // min 2 (f16 0x4000), scale 1 (0x3C00), u = 0, 15, 1, 8.
  const std::vector<uint8_t> want = {0x00, 0x3C, 0x00, 0x40, 0x10, 0x8F};
  EXPECT_THAT(QuantRef(pb::ENCODING_Q4_ASYM, 0, {2, 17, 3, 10}), ElementsAreArray(want));
}

TEST(Golden, SizesAgreeWithEncodedBytes) {
  for (const auto& t : AllEncodings()) {
    if (!t.quantized) continue;
    for (int g : {0, 32, 64, 128, 256})
      for (int64_t cols : {1, 5, 31, 32, 100, 13696}) {
        GroupGeometry geo = *GetGroupGeometry(t.encoding, g, cols);
        EXPECT_EQ(static_cast<uint64_t>(3 * geo.row_bytes), *EncodedBytes(t.encoding, g, {3, cols}))
            << t.name << " g" << g << " cols " << cols;
      }
  }
}

std::vector<float> Gaussian(int64_t n, uint32_t seed, float sigma = 0.02f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, sigma);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

struct Case {
  pb::Encoding enc;
  int g;
  int64_t cols;
};

std::vector<Case> AllCases() {
  std::vector<Case> cases;
  for (auto e : {pb::ENCODING_Q8_SYM, pb::ENCODING_Q4_SYM, pb::ENCODING_Q4_ASYM})
    for (int g : {0, 32, 64, 128, 256})
      for (int64_t cols : {7, 64, 200, 416}) cases.push_back({e, g, cols});
  return cases;
}

TEST(RoundTrip, PlainRtnWithinHalfStep) {
  const int64_t rows = 9;
  for (const Case& c : AllCases()) {
    std::vector<float> w = Gaussian(rows * c.cols, 7);
    w[3] = 0.5f;  // an outlier
    QuantSpec spec{c.enc, c.g, /*search_grid=*/0};
    std::vector<uint8_t> q(*QuantizedBytes(spec, rows, c.cols));
    ASSERT_TRUE(QuantizeMatrix(w.data(), rows, c.cols, spec, nullptr, q.data(), nullptr).ok());
    // Identical bytes to QuantizeRowRef.
    GroupGeometry geo = *GetGroupGeometry(c.enc, c.g, c.cols);
    std::vector<uint8_t> ref(geo.row_bytes);
    QuantizeRowRef(geo, w.data(), c.cols, ref.data());
    ASSERT_EQ(0, std::memcmp(ref.data(), q.data(), ref.size()));
    std::vector<float> back(rows * c.cols);
    ASSERT_TRUE(DequantizeRows(c.enc, c.g, rows, c.cols, q, 0, rows, back.data()).ok());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t gi = 0; gi < geo.n_groups; ++gi) {
        const uint8_t* h = q.data() + r * geo.row_bytes + gi * geo.group_bytes;
        const float step = std::fabs(F16ToF32(h[0] | (h[1] << 8)));
        for (int64_t i = gi * geo.g; i < std::min(c.cols, (gi + 1) * geo.g); ++i) {
          const float x = w[r * c.cols + i];
          ASSERT_LE(std::fabs(x - back[r * c.cols + i]), 0.5f * step * (1 + 1e-5f) + 1e-7f)
              << geo.traits->name << " g" << c.g << " cols " << c.cols << " r" << r << " i" << i;
        }
      }
  }
}

TEST(Search, NeverWorseThanAbsmaxWeighted) {
  const int64_t rows = 16;
  for (const Case& c : AllCases()) {
    std::vector<float> w = Gaussian(rows * c.cols, 11);
    std::vector<float> imp = Gaussian(c.cols, 3, 1.f);
    for (auto& v : imp) v = v * v;
    QuantStats plain, searched;
    std::vector<uint8_t> q(*QuantizedBytes({c.enc, c.g}, rows, c.cols));
    ASSERT_TRUE(
        QuantizeMatrix(w.data(), rows, c.cols, {c.enc, c.g, 0}, imp.data(), q.data(), &plain).ok());
    ASSERT_TRUE(
        QuantizeMatrix(w.data(), rows, c.cols, {c.enc, c.g, 8}, imp.data(), q.data(), &searched)
            .ok());
    EXPECT_LE(searched.weighted_sq_err, plain.weighted_sq_err) << c.enc << " g" << c.g;
  }
}

double Nmse(pb::Encoding e, int g, int grid = 8) {
  const int64_t rows = 64, cols = 512;
  std::vector<float> w = Gaussian(rows * cols, 5);
  std::vector<uint8_t> q(*QuantizedBytes({e, g}, rows, cols));
  return *QuantizeMatrix(w.data(), rows, cols, {e, g, grid}, nullptr, q.data(), nullptr);
}

TEST(Search, OrderOfDegradation) {
  // quant_sanity.json: int8 << int4 asym g32 < int4 sym g32; larger groups are worse.
  const double q8 = Nmse(pb::ENCODING_Q8_SYM, 32), q4a = Nmse(pb::ENCODING_Q4_ASYM, 32),
               q4 = Nmse(pb::ENCODING_Q4_SYM, 32), q4_128 = Nmse(pb::ENCODING_Q4_SYM, 128);
  EXPECT_LT(q8, 1e-4);
  EXPECT_LT(q8 * 50, q4a);
  EXPECT_LT(q4a, q4_128);
  EXPECT_LT(q4, q4_128);
  EXPECT_LT(q4_128, 0.02);
  // The search improves on plain RTN for 4-bit.
  EXPECT_LT(q4, Nmse(pb::ENCODING_Q4_SYM, 32, 0));
  EXPECT_LT(q4a, Nmse(pb::ENCODING_Q4_ASYM, 32, 0));
}

TEST(Errors, BadInputsAreStatuses) {
  std::vector<float> w(64, 0.1f);
  std::vector<uint8_t> q(1024);
  w[5] = NAN;
  EXPECT_FALSE(QuantizeMatrix(w.data(), 2, 32, {pb::ENCODING_Q8_SYM, 32}, nullptr, q.data(),
                              nullptr).ok());
  w[5] = 1e6f;
  EXPECT_FALSE(QuantizeMatrix(w.data(), 2, 32, {pb::ENCODING_Q4_SYM, 32}, nullptr, q.data(),
                              nullptr).ok());
  w[5] = 0.f;
  EXPECT_FALSE(QuantizeMatrix(w.data(), 2, 32, {pb::ENCODING_Q8_SYM, 48}, nullptr, q.data(),
                              nullptr).ok());
  EXPECT_FALSE(QuantizeMatrix(w.data(), 2, 32, {pb::ENCODING_BF16, 32}, nullptr, q.data(),
                              nullptr).ok());
  std::vector<float> imp(32, -1.f);
  EXPECT_FALSE(QuantizeMatrix(w.data(), 2, 32, {pb::ENCODING_Q8_SYM, 32}, imp.data(), q.data(),
                              nullptr).ok());
  pb::TensorEntry e;
  e.set_name("blk.0.ffn_down.weight");
  e.set_encoding(pb::ENCODING_Q8_SYM);
  e.set_group_size(32);
  e.add_shape(2);
  e.add_shape(32);
  std::vector<float> out(64);
  absl::Status s = DequantizeTensor(e, absl::MakeSpan(q.data(), 67), 0, 2, out.data());
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("blk.0.ffn_down.weight"));
  EXPECT_FALSE(DequantizeTensor(e, absl::MakeSpan(q.data(), 68), 1, 3, out.data()).ok());
  EXPECT_TRUE(DequantizeTensor(e, absl::MakeSpan(q.data(), 68), 1, 2, out.data()).ok());
}

TEST(Errors, FirstOutOfRangeRowIsNamed) {
  // Many rows so that OpenMP threads meet bad rows out of order.
  const int64_t rows = 512, cols = 64;
  std::vector<float> w(rows * cols, 0.01f);
  std::vector<uint8_t> q(rows * 2 * cols);  // room for any encoding's row bytes
  w[400 * cols + 3] = INFINITY;
  w[77 * cols + 60] = -7e4f;  // beyond f16 max (65504)
  w[300 * cols] = NAN;
  for (const pb::Encoding enc : {pb::ENCODING_Q8_SYM, pb::ENCODING_Q4_ASYM}) {
    absl::StatusOr<double> r = QuantizeMatrix(w.data(), rows, cols, {enc, 32, 8}, nullptr,
                                              q.data(), nullptr);
    ASSERT_FALSE(r.ok());
    EXPECT_THAT(std::string(r.status().message()), ::testing::HasSubstr("row 77 holds"));
  }
  QuantWeighting magnitude;
  magnitude.magnitude = true;
  absl::StatusOr<double> r = QuantizeMatrixWeighted(w.data(), rows, cols,
                                                    {pb::ENCODING_Q4_SYM, 32, 8}, magnitude,
                                                    q.data(), nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), ::testing::HasSubstr("row 77 holds"));
  w[77 * cols + 60] = 6e4f;  // in range again: the NaN at row 300 is next
  r = QuantizeMatrix(w.data(), rows, cols, {pb::ENCODING_Q8_SYM, 32, 8}, nullptr, q.data(),
                     nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), ::testing::HasSubstr("row 300 holds"));
}

// QuantizeMatrixRaw (rows converted one at a time inside the quantizer)
// writes the bytes and stats QuantizeMatrix writes for the converted matrix.
TEST(Raw, SameBytesAndStatsAsF32) {
  const int64_t rows = 96, cols = 13696 / 8;  // ragged: 1712 = 13 x 128 + 48
  std::mt19937 rng(7);
  std::normal_distribution<float> d(0.f, 0.02f);
  std::vector<float> x(rows * cols);
  for (auto& v : x) v = d(rng);
  for (const DType dt : {DType::kF32, DType::kF16, DType::kBF16}) {
    std::vector<uint8_t> stored(x.size() * DTypeSize(dt));
    ConvertFromF32(dt, x.data(), stored.data(), x.size());
    std::vector<float> f32(x.size());
    ConvertToF32(dt, stored.data(), f32.data(), f32.size());
    for (const pb::Encoding e : {pb::ENCODING_Q8_SYM, pb::ENCODING_Q4_SYM, pb::ENCODING_Q4_ASYM})
      for (const int grid : {0, 8}) {
        const QuantSpec spec{e, 128, grid};
        std::vector<uint8_t> want(*QuantizedBytes(spec, rows, cols)), got(want.size(), 0xAA);
        QuantStats ws, gs;
        ASSERT_TRUE(QuantizeMatrix(f32.data(), rows, cols, spec, nullptr, want.data(), &ws).ok());
        ASSERT_TRUE(
            QuantizeMatrixRaw(dt, stored.data(), rows, cols, spec, nullptr, got.data(), &gs).ok());
        SCOPED_TRACE(testing::Message() << Traits(dt).name << " enc " << e << " grid " << grid);
        EXPECT_EQ(got, want);
        EXPECT_DOUBLE_EQ(gs.sum_sq_err, ws.sum_sq_err);
        EXPECT_DOUBLE_EQ(gs.sum_sq, ws.sum_sq);
        EXPECT_EQ(gs.max_abs_err, ws.max_abs_err);
        EXPECT_EQ(gs.n_values, ws.n_values);
      }
  }
}

TEST(Raw, FirstOutOfRangeRowIsNamed) {
  const int64_t rows = 512, cols = 64;
  std::vector<float> w(rows * cols, 0.01f);
  w[400 * cols + 3] = INFINITY;
  w[77 * cols + 60] = -7e4f;  // beyond f16 max, representable in bf16
  w[300 * cols] = NAN;
  std::vector<uint16_t> bf(w.size());
  ConvertFromF32(DType::kBF16, w.data(), bf.data(), w.size());
  std::vector<uint8_t> q(rows * 2 * cols);
  absl::StatusOr<double> r = QuantizeMatrixRaw(DType::kBF16, bf.data(), rows, cols,
                                               {pb::ENCODING_Q4_SYM, 32, 8}, nullptr, q.data(),
                                               nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), ::testing::HasSubstr("row 77 holds"));
  r = QuantizeMatrixRaw(DType::kI8, bf.data(), rows, cols, {pb::ENCODING_Q8_SYM, 32, 8}, nullptr,
                        q.data(), nullptr);
  EXPECT_FALSE(r.ok());
}

TEST(Dequantize, PlainEncodingsConvert) {
  pb::TensorEntry e;
  e.set_encoding(pb::ENCODING_BF16);
  e.add_shape(2);
  e.add_shape(2);
  const uint16_t data[4] = {F32ToBf16(1.f), F32ToBf16(-2.f), F32ToBf16(0.5f), F32ToBf16(3.f)};
  float out[2];
  ASSERT_TRUE(DequantizeRow(e, {reinterpret_cast<const uint8_t*>(data), 8}, 1, out).ok());
  EXPECT_EQ(out[0], 0.5f);
  EXPECT_EQ(out[1], 3.f);
}

}  // namespace
}  // namespace glmq
