// glmq q8/q4/q4a rows -> ggml blocks: ggml's dequantization of the blocks
// (written from its published layout) equals glmq's own, bit for bit, for
// every group size; and g32 rows are byte-identical to the blocks. (The
// reference quantizer's scales are positive, so no -0.0 arises here; see
// tests/export_cli_test.cc for searched scales.)
#include "export/gguf_blocks.h"

#include <cstring>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "quant/dequantize.h"
#include "quant/reference.h"
#include "schema/encodings.h"

namespace glmq::gguf {
namespace {

struct Case {
  pb::Encoding encoding;
  int group_size;
};

TEST(GgufBlocks, DequantizeBitExactForEveryGroupSize) {
  const int64_t rows = 3, cols = 512;
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.f, 0.02f);
  std::vector<float> x(rows * cols);
  for (float& v : x) v = nd(rng);
  for (pb::Encoding enc : {pb::ENCODING_Q8_SYM, pb::ENCODING_Q4_SYM, pb::ENCODING_Q4_ASYM}) {
    for (int g : {32, 64, 128, 256, 0}) {
      SCOPED_TRACE(testing::Message() << "encoding " << enc << " g" << g);
      auto geo = GetGroupGeometry(enc, g, cols);
      ASSERT_TRUE(geo.ok());
      std::vector<uint8_t> q(rows * geo->row_bytes);
      for (int64_t r = 0; r < rows; ++r) {
        QuantizeRowRef(*geo, x.data() + r * cols, cols, q.data() + r * geo->row_bytes);
      }
      ASSERT_TRUE(MapsToBlocks(enc, g, cols));
      const TensorTypeTraits& tt = *TensorTypeForEncoding(enc);
      std::vector<uint8_t> blocks(rows * TypeRowBytes(tt, cols));
      ASSERT_TRUE(GlmqRowsToBlocks(enc, g, cols, q.data(), rows, blocks.data()).ok());
      std::vector<float> ours(rows * cols), ggml(rows * cols);
      ASSERT_TRUE(DequantizeRows(enc, g, rows, cols, q, 0, rows, ours.data()).ok());
      ASSERT_TRUE(DequantizeGgml(tt.type, blocks.data(), rows * cols, ggml.data()).ok());
      EXPECT_EQ(std::memcmp(ours.data(), ggml.data(), ours.size() * 4), 0);
      std::vector<uint8_t> back(q.size());
      ASSERT_TRUE(BlocksToGlmqRows(enc, g, cols, blocks.data(), rows, back.data()).ok());
      EXPECT_EQ(back, q);
      if (g == 32) {
        EXPECT_EQ(q, blocks);  // the same bytes
      }
    }
  }
}

TEST(GgufBlocks, BlocksWithDifferentScalesAreNotOneGroup) {
  std::vector<uint8_t> blocks(2 * 18, 0), out(2 + 32);
  blocks[1] = 0x3c;   // block 0: d = 1
  blocks[19] = 0x40;  // block 1: d = 2
  const absl::Status s =
      BlocksToGlmqRows(pb::ENCODING_Q4_SYM, 64, 64, blocks.data(), 1, out.data());
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("row 0, group 0"), absl::string_view::npos) << s;
}

TEST(GgufBlocks, RowsThatAreNotWholeBlocksDoNotMap) {
  EXPECT_FALSE(MapsToBlocks(pb::ENCODING_Q4_SYM, 32, 48));
  EXPECT_FALSE(MapsToBlocks(pb::ENCODING_Q4_SYM, 0, 100));
  EXPECT_FALSE(MapsToBlocks(pb::ENCODING_BF16, 0, 64));
  EXPECT_FALSE(GlmqRowsToBlocks(pb::ENCODING_Q8_SYM, 32, 48, nullptr, 1, nullptr).ok());
}

}  // namespace
}  // namespace glmq::gguf
