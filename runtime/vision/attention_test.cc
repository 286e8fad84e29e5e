// The tiled online-softmax attention at every SIMD level against the plain
// reference, across sizes that cross the query (64) and key (256) blocks and
// head sizes that do and do not fill whole vectors.
#include "runtime/vision/attention.h"

#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace glmq::vision {
namespace {

struct Shape {
  int64_t n_rows, n_heads, head_dim;
};

std::vector<float> RandomQkv(const QkvLayout& s, float spread, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.f, spread);
  std::vector<float> qkv(s.n_rows * s.row_stride);
  for (float& v : qkv) v = dist(rng);
  return qkv;
}

TEST(VisionAttention, TiledMatchesReferenceAtEveryLevel) {
  // head_dim 13/14/15, 24, 80/96/112: every remainder of value vectors
  // after the full micro-tiles at every level (W = 1, 8, 16).
  const Shape shapes[] = {{1, 1, 16},  {5, 2, 16},    {65, 4, 16},  {300, 2, 12}, {48, 4, 16},
                          {70, 1, 13}, {70, 1, 14},   {70, 2, 15},  {70, 2, 24},  {70, 1, 80},
                          {70, 1, 96}, {517, 3, 112}, {260, 2, 128}};
  for (const Shape& sh : shapes) {
    // Padding in each row, as in a [n, 3 hidden + extra] buffer.
    const QkvLayout s{sh.n_rows, sh.n_heads, sh.head_dim, 3 * sh.n_heads * sh.head_dim + 5};
    // A spread of 1.5 makes scores of several units: peaked softmax rows.
    const std::vector<float> qkv = RandomQkv(s, 1.5f, static_cast<uint32_t>(sh.n_rows));
    const int64_t width = sh.n_heads * sh.head_dim;
    std::vector<float> ref(sh.n_rows * width);
    AttentionReference(qkv.data(), s, ref.data(), 2);
    for (SimdLevel level : {SimdLevel::kScalar, SimdLevel::kAvx2, SimdLevel::kAvx512}) {
      std::vector<float> out(ref.size(), NAN);
      AttentionScratch scratch;
      const SimdLevel ran = AttentionAtLevel(level, qkv.data(), s, out.data(), 2, &scratch);
      double max_diff = 0;
      for (size_t i = 0; i < ref.size(); ++i) {
        max_diff = std::max(max_diff, static_cast<double>(std::fabs(out[i] - ref[i])));
      }
      // Outputs are convex combinations of values of spread 1.5: f32 rounding
      // of the blocked sums and the polynomial exp stay far below 1e-5.
      EXPECT_LE(max_diff, 1e-5) << "n " << sh.n_rows << " heads " << sh.n_heads << " head_dim "
                                << sh.head_dim << " level " << SimdLevelName(ran);
    }
  }
}

TEST(VisionAttention, ScratchIsReusedAcrossSizes) {
  AttentionScratch scratch;
  for (int64_t n : {300, 20, 600}) {
    const QkvLayout s{n, 2, 16, 96};
    const std::vector<float> qkv = RandomQkv(s, 1.0f, 7);
    std::vector<float> ref(n * 32), out(n * 32);
    AttentionReference(qkv.data(), s, ref.data(), 1);
    Attention(qkv.data(), s, out.data(), 2, &scratch);
    for (size_t i = 0; i < ref.size(); ++i) ASSERT_NEAR(out[i], ref[i], 1e-5) << "n " << n;
  }
}

TEST(VisionAttention, LargeScoresDoNotOverflow) {
  // Scores of hundreds: exp must be taken relative to the running maximum.
  const QkvLayout s{300, 1, 16, 48};
  const std::vector<float> qkv = RandomQkv(s, 6.0f, 3);
  std::vector<float> ref(300 * 16), out(300 * 16);
  AttentionReference(qkv.data(), s, ref.data(), 1);
  AttentionScratch scratch;
  Attention(qkv.data(), s, out.data(), 1, &scratch);
  for (size_t i = 0; i < ref.size(); ++i) {
    ASSERT_TRUE(std::isfinite(out[i]));
    ASSERT_NEAR(out[i], ref[i], 1e-4);
  }
}

}  // namespace
}  // namespace glmq::vision
