// Quantized token embedding in the CPU backend: a lookup of a q8/q4/q4a
// table must equal DequantizeRow of the stored tensor (quant/dequantize.h,
// the reference decoder of specs/encodings.md) bit for bit, for every
// encoding and group size the presets use, including a width that ends in
// a padded group. Bad ids and bad sizes are errors, not crashes.
#include <cstring>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "quant/dequantize.h"
#include "quant/quantize.h"
#include "runtime/cpu/cpu_backend.h"

namespace glmq {
namespace {

using ::testing::HasSubstr;

struct Case {
  pb::Encoding encoding;
  int group_size;
  int64_t cols;
};

class QuantEmbedding : public ::testing::TestWithParam<Case> {};

TEST_P(QuantEmbedding, LookupEqualsDequantizedRowBitExactly) {
  const Case c = GetParam();
  constexpr int64_t kRows = 97;
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.f, 0.05f);
  std::vector<float> w(kRows * c.cols);
  for (float& v : w) v = nd(rng);
  w[5 * c.cols + 3] = 0.9f;  // an outlier in one group
  const QuantSpec spec{c.encoding, c.group_size, 8};
  auto bytes = QuantizedBytes(spec, kRows, c.cols);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  std::vector<uint8_t> packed(*bytes);
  ASSERT_TRUE(QuantizeMatrix(w.data(), kRows, c.cols, spec, nullptr, packed.data(), nullptr).ok());

  pb::TensorEntry entry;
  entry.set_name("token_embd.weight");
  entry.set_encoding(c.encoding);
  entry.set_group_size(c.group_size);
  entry.add_shape(kRows);
  entry.add_shape(c.cols);
  const WeightView table = *MakeWeightView("token_embd.weight", c.encoding, c.group_size,
                                           {kRows, c.cols}, packed.data(), packed.size());

  const std::vector<int32_t> ids = {0, 5, 96, 5, 42, 1};  // first, last, repeated
  std::vector<float> got(ids.size() * c.cols, -1.f);
  CpuBackend be(1);
  ASSERT_TRUE(be.Embedding(table, ids.data(), ids.size(), got.data()).ok());
  std::vector<float> want(c.cols);
  for (size_t t = 0; t < ids.size(); ++t) {
    ASSERT_TRUE(DequantizeRow(entry, packed, ids[t], want.data()).ok());
    EXPECT_EQ(std::memcmp(got.data() + t * c.cols, want.data(), c.cols * sizeof(float)), 0)
        << "token " << t << " id " << ids[t];
  }
  // And close to the f32 row it came from (q8 error <= scale / 2).
  const float tol = c.encoding == pb::ENCODING_Q8_SYM ? 0.01f : 0.2f;
  for (int64_t i = 0; i < c.cols; ++i) EXPECT_NEAR(got[c.cols + i], w[5 * c.cols + i], tol);
}

INSTANTIATE_TEST_SUITE_P(
    Encodings, QuantEmbedding,
    ::testing::Values(Case{pb::ENCODING_Q8_SYM, 32, 256}, Case{pb::ENCODING_Q8_SYM, 128, 256},
                      Case{pb::ENCODING_Q4_SYM, 32, 256}, Case{pb::ENCODING_Q4_SYM, 128, 256},
                      Case{pb::ENCODING_Q4_ASYM, 32, 256}, Case{pb::ENCODING_Q4_ASYM, 128, 256},
                      Case{pb::ENCODING_Q8_SYM, 128, 200},   // last group padded
                      Case{pb::ENCODING_Q4_ASYM, 0, 200}),   // one group per row
    [](const ::testing::TestParamInfo<Case>& i) {
      return absl::StrCat(pb::Encoding_Name(i.param.encoding), "_g", i.param.group_size, "_c",
                          i.param.cols);
    });

TEST(QuantEmbeddingErrors, BadIdAndBadSize) {
  constexpr int64_t kRows = 4, kCols = 64;
  const QuantSpec spec{pb::ENCODING_Q8_SYM, 32, 0};
  std::vector<float> w(kRows * kCols, 0.5f);
  std::vector<uint8_t> packed(*QuantizedBytes(spec, kRows, kCols));
  ASSERT_TRUE(QuantizeMatrix(w.data(), kRows, kCols, spec, nullptr, packed.data(), nullptr).ok());
  CpuBackend be(1);
  std::vector<float> out(2 * kCols);
  const WeightView table = *MakeWeightView("token_embd.weight", pb::ENCODING_Q8_SYM, 32,
                                           {kRows, kCols}, packed.data(), packed.size());
  const int32_t bad_ids[] = {1, 4};
  absl::Status s = be.Embedding(table, bad_ids, 2, out.data());
  EXPECT_TRUE(absl::IsOutOfRange(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("token id 4"));
  const int32_t ids[] = {0, 3};
  s = MakeWeightView("token_embd.weight", pb::ENCODING_Q8_SYM, 32, {kRows, kCols}, packed.data(),
                     packed.size() - 1)
          .status();
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("token_embd.weight"));
  ASSERT_TRUE(be.Embedding(table, ids, 2, out.data()).ok());
  for (float v : out) EXPECT_NEAR(v, 0.5f, 1e-3f);
}

}  // namespace
}  // namespace glmq
