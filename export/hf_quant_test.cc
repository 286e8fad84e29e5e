// AWQ / GPTQ packing: the consumer's dequantization from the packed tensors
// (by the published layout) equals glmq's decoding; unpacking gives back
// the very same glmq bytes; q4a mins that are not -z * s are refused.
#include "export/hf_quant.h"

#include <cstring>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "gtest/gtest.h"
#include "quant/dequantize.h"
#include "quant/reference.h"
#include "schema/encodings.h"

namespace glmq::gguf {
namespace {

pb::TensorEntry Entry(pb::Encoding enc, int g, int64_t rows, int64_t cols) {
  pb::TensorEntry e;
  e.set_name("w");
  e.set_encoding(enc);
  e.set_group_size(g);
  e.add_shape(rows);
  e.add_shape(cols);
  return e;
}

// q4 rows from the reference quantizer, or q4a rows with integer zero points.
std::vector<uint8_t> Rows(pb::Encoding enc, int g, int64_t rows, int64_t cols) {
  auto geo = GetGroupGeometry(enc, g, cols);
  std::vector<uint8_t> q(rows * geo->row_bytes);
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.f, 0.02f);
  std::vector<float> x(cols);
  for (int64_t r = 0; r < rows; ++r) {
    for (float& v : x) v = nd(rng);
    QuantizeRowRef(*geo, x.data(), cols, q.data() + r * geo->row_bytes);
    if (enc != pb::ENCODING_Q4_ASYM) continue;
    for (int64_t gi = 0; gi < geo->n_groups; ++gi) {  // s := 2^-7, min := -z * s, z = 0..15
      uint8_t* grp = q.data() + r * geo->row_bytes + gi * geo->group_bytes;
      const uint16_t s16 = 0x2000;
      std::memcpy(grp, &s16, 2);
      const uint16_t m16 = F32ToF16(-static_cast<float>((r + gi) % 16) * F16ToF32(s16));
      std::memcpy(grp + 2, &m16, 2);
    }
  }
  return q;
}

TEST(HfQuant, PackedDequantizationEqualsGlmqAndUnpacksToTheSameBytes) {
  const int64_t rows = 24, cols = 256;
  for (auto format : {HfQuantFormat::kAwq, HfQuantFormat::kGptq}) {
    for (pb::Encoding enc : {pb::ENCODING_Q4_SYM, pb::ENCODING_Q4_ASYM}) {
      for (int g : {32, 64, 128, 0}) {
        if (format == HfQuantFormat::kGptq && enc == pb::ENCODING_Q4_ASYM) continue;  // zero 0
        SCOPED_TRACE(testing::Message()
                     << "format " << static_cast<int>(format) << " enc " << enc << " g" << g);
        const pb::TensorEntry e = Entry(enc, g, rows, cols);
        const std::vector<uint8_t> q = Rows(enc, g, rows, cols);
        auto m = Int4FromGlmq(e, q.data(), rows, "w");
        ASSERT_TRUE(m.ok()) << m.status();
        const PackedInt4 p = PackInt4(*m, format);
        std::vector<float> ours(rows * cols), theirs(rows * cols);
        ASSERT_TRUE(DequantizeTensor(e, q, 0, rows, ours.data()).ok());
        DequantizePacked(format, p, rows, cols, m->group, theirs.data());
        int64_t differ = 0;  // as floats: (q - z) * s may be -0.0 where glmq has +0.0
        for (int64_t i = 0; i < rows * cols; ++i) differ += !(ours[i] == theirs[i]);
        EXPECT_EQ(differ, 0);
        auto back = UnpackInt4(format, p.qweight.data(), p.qzeros.data(), p.scales.data(), rows,
                               cols, m->group, 0, rows);
        ASSERT_TRUE(back.ok()) << back.status();
        std::vector<uint8_t> bytes(q.size());
        ASSERT_TRUE(Int4ToGlmq(*back, enc, bytes.data(), "w").ok());
        EXPECT_EQ(bytes, q);
        auto part = UnpackInt4(format, p.qweight.data(), p.qzeros.data(), p.scales.data(), rows,
                               cols, m->group, 8, 16);  // rows 8..15 alone
        ASSERT_TRUE(part.ok());
        EXPECT_EQ(std::vector<uint8_t>(part->q.begin(), part->q.end()),
                  std::vector<uint8_t>(back->q.begin() + 8 * cols, back->q.begin() + 16 * cols));
      }
    }
  }
}

TEST(HfQuant, AwqNibbleOrder) {
  Int4Matrix m;
  m.out = 8;
  m.in = 32;
  m.group = 32;
  m.q.assign(8 * 32, 0);
  for (int o = 0; o < 8; ++o) m.q[o * 32 + 0] = static_cast<uint8_t>(o + 1);  // input row 0
  m.scales.assign(8, 0x3c00);
  m.zeros.assign(8, 8);
  const PackedInt4 awq = PackInt4(m, HfQuantFormat::kAwq);
  // Nibble i holds column [0, 2, 4, 6, 1, 3, 5, 7][i]: codes 1,3,5,7,2,4,6,8.
  EXPECT_EQ(static_cast<uint32_t>(awq.qweight[0]), 0x86427531u);
  EXPECT_EQ(static_cast<uint32_t>(awq.qzeros[0]), 0x88888888u);
  const PackedInt4 gptq = PackInt4(m, HfQuantFormat::kGptq);
  EXPECT_EQ(static_cast<uint32_t>(gptq.qweight[0 * 8 + 3]), 4u);  // word (0, o=3): input rows 0..7
  EXPECT_EQ(static_cast<uint32_t>(gptq.qzeros[0]), 0x77777777u);  // zero 8 stored as 7
}

TEST(HfQuant, RefusesWhatHasNoExactForm) {
  const pb::TensorEntry q8 = Entry(pb::ENCODING_Q8_SYM, 32, 8, 32);
  std::vector<uint8_t> b(8 * 34, 0);
  auto s = Int4FromGlmq(q8, b.data(), 8, "model.layers.0.mlp.down_proj.weight");
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("is q8; AWQ/GPTQ hold 4-bit groups only"),
            absl::string_view::npos)
      << s.status();
  const pb::TensorEntry q4a = Entry(pb::ENCODING_Q4_ASYM, 32, 8, 32);
  std::vector<uint8_t> a(8 * 20, 0);
  const uint16_t one = 0x3c00, min = 0x3800;  // s = 1, m = 0.5: z = -0.5
  std::memcpy(a.data(), &one, 2);
  std::memcpy(a.data() + 2, &min, 2);
  s = Int4FromGlmq(q4a, a.data(), 8, "w");
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("row 0 group 0: q4a min 0.5 is not -z * scale"),
            absl::string_view::npos)
      << s.status();
}

}  // namespace
}  // namespace glmq::gguf
