// Scalar reference of QuantMatMul: defines the result the SIMD kernels are
// tested against (int32 block products exact, f32 sums in this order).
#include <algorithm>
#include <cmath>
#include <vector>

#include "quant/reference.h"
#include "runtime/cpu/qmatmul_internal.h"

namespace glmq::qk {

void QuantizeActivations(const GroupGeometry& geo, const float* x, int64_t cols,
                         int64_t n_tokens, ActQ* a) {
  a->n_tokens = n_tokens;
  a->n_groups = geo.n_groups;
  const int64_t need = std::max(cols, geo.n_groups * geo.g);
  a->padded = (need + 2 * kActBlock - 1) / (2 * kActBlock) * (2 * kActBlock);
  a->n_blocks = a->padded / kActBlock;
  a->q.assign(n_tokens * a->padded, 0);
  a->scale.assign(n_tokens * a->n_blocks, 0.f);
  a->group_sum.assign(n_tokens * a->n_groups, 0.f);
  const int64_t lanes = a->padded / 4;
  a->lane_scale.resize(n_tokens * lanes);
  a->lane_neg_sum.resize(n_tokens * lanes);
  std::vector<float> block_sum(a->n_blocks);
  for (int64_t t = 0; t < n_tokens; ++t) {
    const float* xt = x + t * cols;
    int8_t* qt = a->q.data() + t * a->padded;
    float* st = a->scale.data() + t * a->n_blocks;
    for (int64_t b = 0; b < a->n_blocks; ++b) {
      const int64_t begin = b * kActBlock, end = std::min(cols, begin + kActBlock);
      float amax = 0.f;
      for (int64_t i = begin; i < end; ++i) amax = std::max(amax, std::fabs(xt[i]));
      const float d = amax / 127.f, id = amax > 0.f ? 127.f / amax : 0.f;
      int32_t sum = 0;
      for (int64_t i = begin; i < end; ++i) {
        const float r = std::clamp(std::nearbyint(xt[i] * id), -127.f, 127.f);
        qt[i] = static_cast<int8_t>(r);
        sum += qt[i];
      }
      st[b] = d;
      block_sum[b] = d * static_cast<float>(sum);
    }
    for (int64_t j = 0; j < lanes; ++j) {
      const int8_t* l = qt + 4 * j;
      a->lane_scale[t * lanes + j] = st[4 * j / kActBlock];
      a->lane_neg_sum[t * lanes + j] = -(l[0] + l[1] + l[2] + l[3]);
    }
    // F_g: blocks lie inside one group, or the row is one group.
    float* gs = a->group_sum.data() + t * a->n_groups;
    for (int64_t b = 0; b < a->n_blocks; ++b)
      gs[std::min(b * kActBlock / geo.g, a->n_groups - 1)] += block_sum[b];
  }
}

bool SimdGeometryOk(const GroupGeometry& geo) {
  if (geo.traits->value_bits == 8) return geo.g % 32 == 0;
  return geo.g == 32 || geo.g % 64 == 0;
}

void RowsScalar(const WeightView& w, const GroupGeometry& geo, const ActQ& a, int64_t r0,
                int64_t r1, float* y) {
  const EncodingTraits& t = *geo.traits;
  std::vector<int8_t> q(geo.g);
  std::vector<float> acc(a.n_tokens);
  for (int64_t r = r0; r < r1; ++r) {
    std::fill(acc.begin(), acc.end(), 0.f);
    const uint8_t* row = w.data + r * geo.row_bytes;
    for (int64_t gi = 0; gi < geo.n_groups; ++gi) {
      const UnpackedGroup u = UnpackGroup(geo, row + gi * geo.group_bytes, q.data());
      // Stored nibbles for q4 (offset handled through F_g), values for q8.
      const float offset = t.has_min ? u.min : -static_cast<float>(t.value_offset) * u.scale;
      const int64_t begin = gi * geo.g, end = std::min(begin + geo.g, a.padded);
      for (int64_t tok = 0; tok < a.n_tokens; ++tok) {
        const int8_t* aq = a.q.data() + tok * a.padded;
        const float* as = a.scale.data() + tok * a.n_blocks;
        float gacc = 0.f;
        for (int64_t b0 = begin; b0 < end; b0 = (b0 / kActBlock + 1) * kActBlock) {
          const int64_t b1 = std::min(end, (b0 / kActBlock + 1) * kActBlock);
          int32_t dot = 0;
          for (int64_t e = b0; e < b1; ++e)
            dot += (q[e - begin] + t.value_offset) * static_cast<int32_t>(aq[e]);
          gacc += as[b0 / kActBlock] * static_cast<float>(dot);
        }
        acc[tok] += u.scale * gacc + offset * a.group_sum[tok * a.n_groups + gi];
      }
    }
    for (int64_t tok = 0; tok < a.n_tokens; ++tok) y[tok * w.rows + r] = acc[tok];
  }
}

}  // namespace glmq::qk
