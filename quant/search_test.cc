// The scale search's SIMD versions (search_avx2.cc, search_avx512.cc) write
// the same bytes and the same error sums as the scalar spec
// (search_scalar.cc), for every encoding, group size, grid and weighting,
// including ragged tails, signed zeros, ties and all-zero groups. Grid 1
// (q8's default: one base, one refit), 3 (q4a: a partial pass of
// candidates) and 8 (q4: 16 bases, the refits of the best two).
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "core/dtype.h"
#include "schema/encodings.h"
#include "quant/search.h"

namespace glmq {
namespace {

struct Row {
  std::vector<uint8_t> bytes;
  search::RowStats stats;
};

Row RunRow(SimdLevel level, const GroupGeometry& geo, const std::vector<float>& x, const float* w,
        const float* imp, int grid) {
  SimdLevel used;
  search::RowFn fn = search::SelectRowFn(level, &used);
  Row r;
  r.bytes.assign(geo.row_bytes, 0xAA);
  fn(geo, x.data(), w, imp, static_cast<int64_t>(x.size()), grid, r.bytes.data(), &r.stats);
  return r;
}

std::vector<float> Values(int64_t n, uint32_t seed, int kind) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 0.02f);
  std::vector<float> x(n);
  for (auto& v : x) v = d(rng);
  if (kind == 1) for (auto& v : x) v = std::round(v * 300.f) / 100.f;  // many ties, +-max pairs
  if (kind == 2) for (int64_t i = 0; i < n; i += 3) x[i] = (i % 2) ? -0.f : 0.f;
  if (kind == 3) for (int64_t i = 0; i < n && i < 160; ++i) x[i] = 0.f;  // all-zero groups
  if (kind == 4) for (auto& v : x) v = std::fabs(v) + 0.05f;               // skewed (q4a)
  return x;
}

TEST(ScaleSearch, SimdMatchesScalarBitForBit) {
  const CpuFeatures& f = GetCpuFeatures();
  uint32_t seed = 1;
  for (auto e : {pb::ENCODING_Q8_SYM, pb::ENCODING_Q4_SYM, pb::ENCODING_Q4_ASYM})
    for (int g : {0, 32, 64, 128, 256})
      for (int64_t cols : {16, 33, 256, 320, 13696 / 8, 4096})
        for (int grid : {0, 1, 3, 8})
          for (int kind = 0; kind < 5; ++kind) {
            const GroupGeometry geo = *GetGroupGeometry(e, g, cols);
            const std::vector<float> x = Values(cols, ++seed, kind);
            std::vector<float> w = Values(cols, ++seed, 4), imp = Values(cols, ++seed, 4);
            for (int weighted = 0; weighted < 2; ++weighted) {
              const float* wp = weighted ? w.data() : nullptr;
              const float* ip = weighted ? imp.data() : nullptr;
              const Row ref = RunRow(SimdLevel::kScalar, geo, x, wp, ip, grid);
              for (SimdLevel level : {SimdLevel::kAvx2, SimdLevel::kAvx512}) {
                if (level == SimdLevel::kAvx2 && !f.avx2) continue;
                if (level == SimdLevel::kAvx512 && !f.avx512) continue;
                const Row got = RunRow(level, geo, x, wp, ip, grid);
                SCOPED_TRACE(testing::Message()
                             << SimdLevelName(level) << " enc " << e << " g" << g << " cols "
                             << cols << " grid " << grid << " kind " << kind << " w " << weighted);
                ASSERT_EQ(got.bytes, ref.bytes);
                EXPECT_EQ(got.stats.sum_sq_err, ref.stats.sum_sq_err);
                EXPECT_EQ(got.stats.sum_sq, ref.stats.sum_sq);
                EXPECT_EQ(got.stats.weighted_sq_err, ref.stats.weighted_sq_err);
                EXPECT_EQ(got.stats.max_abs_err, ref.stats.max_abs_err);
              }
            }
          }
}

TEST(LoadRow, LevelsAgreeAndFlagOutOfRange) {
  const CpuFeatures& f = GetCpuFeatures();
  std::vector<float> x = Values(77, 5, 0);  // ragged: 4 x 16 + 13
  x[5] = 1e-7f;                             // subnormal in f16
  for (const DType dt : {DType::kBF16, DType::kF16})
    for (int bad = -1; bad < 3; ++bad) {
      std::vector<float> v = x;
      if (bad >= 0)
        v[bad == 0 ? 3 : bad == 1 ? 40 : 76] = bad == 0 ? NAN : bad == 1 ? 7e4f : -INFINITY;
      std::vector<uint16_t> h(v.size());
      ConvertFromF32(dt, v.data(), h.data(), v.size());
      std::vector<float> ref(v.size()), got(v.size());
      const bool ref_ok = search::LoadRowScalar(dt, h.data(), v.size(), ref.data());
      EXPECT_EQ(ref_ok, bad < 0) << bad;  // NaN, > f16 max (inf in f16), -inf
      for (SimdLevel level : {SimdLevel::kAvx2, SimdLevel::kAvx512}) {
        if (level == SimdLevel::kAvx2 && !f.avx2) continue;
        if (level == SimdLevel::kAvx512 && !f.avx512) continue;
        const bool ok = search::SelectLoadRowFn(level)(dt, h.data(), v.size(), got.data());
        EXPECT_EQ(ok, ref_ok) << SimdLevelName(level) << " bad " << bad;
        EXPECT_EQ(0, std::memcmp(got.data(), ref.data(), ref.size() * 4)) << SimdLevelName(level);
      }
    }
}

TEST(ScaleSearch, SelectRowFnReportsTheLevel) {
  SimdLevel used = SimdLevel::kAvx512;
  search::SelectRowFn(SimdLevel::kScalar, &used);
  EXPECT_EQ(used, SimdLevel::kScalar);
}

}  // namespace
}  // namespace glmq
