// Scalar reference of QuantMatMul: defines the result the SIMD kernels are
// tested against (int32 block products exact, f32 sums in this order).
#include <algorithm>
#include <cmath>
#include <vector>

#include "quant/reference.h"
#include "runtime/cpu/qmatmul_internal.h"

namespace glmq::qk {

void PrepareActivations(const GroupGeometry& geo, int64_t cols, int64_t n_tokens, int64_t kc,
                        ActQ* a) {
  a->n_tokens = n_tokens;
  a->n_groups = geo.n_groups;
  const int64_t need = std::max(cols, geo.n_groups * geo.g);
  a->padded = (need + 2 * kActBlock - 1) / (2 * kActBlock) * (2 * kActBlock);
  a->n_blocks = a->padded / kActBlock;
  a->lanes = kc == 0;
  a->kc = kc == 0 ? a->padded : kc;
  const int64_t k_blocks = (a->padded + a->kc - 1) / a->kc;
  // resize, not assign: every value is written by the quantizer.
  a->q.resize(k_blocks * n_tokens * a->kc);
  a->scale.resize(k_blocks * n_tokens * a->kc / kActBlock);
  a->block_bias.resize(a->scale.size());
  a->block_fsum.resize(a->scale.size());
  a->group_sum.resize(n_tokens * a->n_groups);
  const int64_t n_lanes = a->lanes ? n_tokens * a->padded / 4 : 0;
  a->lane_scale.resize(n_lanes);
  a->lane_neg_sum.resize(n_lanes);
}

void QuantizeTokensScalar(const GroupGeometry& geo, const float* x, int64_t cols, int64_t t0,
                          int64_t t1, ActQ* a) {
  const int64_t lanes = a->padded / 4;
  const int32_t bias = StoredBias(*geo.traits);
  for (int64_t t = t0; t < t1; ++t) {
    const float* xt = x + t * cols;
    float* gs = a->group_sum.data() + t * a->n_groups;
    std::fill(gs, gs + a->n_groups, 0.f);
    for (int64_t b = 0; b < a->n_blocks; ++b) {
      const int64_t begin = b * kActBlock, end = std::min(cols, begin + kActBlock);
      int8_t* qt = a->q.data() + a->QIndex(t, begin) - begin;  // qt[i], i in the block
      const int64_t bi = a->BIndex(t, b);
      float amax = 0.f;
      for (int64_t i = begin; i < end; ++i) amax = std::max(amax, std::fabs(xt[i]));
      const float d = amax / 127.f, id = amax > 0.f ? 127.f / amax : 0.f;
      int32_t sum = 0;
      for (int64_t i = begin; i < begin + kActBlock; ++i) {
        const float r = i < end ? std::clamp(std::nearbyint(xt[i] * id), -127.f, 127.f) : 0.f;
        qt[i] = static_cast<int8_t>(r);
        sum += qt[i];
      }
      a->scale[bi] = d;
      a->block_bias[bi] = -bias * sum;
      a->block_fsum[bi] = d * static_cast<float>(sum);
      // F_g: blocks lie inside one group, or the row is one group.
      gs[std::min(b * kActBlock / geo.g, a->n_groups - 1)] += a->block_fsum[bi];
    }
    if (a->lanes) {
      const int8_t* qt = a->q.data() + t * a->padded;
      for (int64_t j = 0; j < lanes; ++j) {
        const int8_t* l = qt + 4 * j;
        a->lane_scale[t * lanes + j] = a->scale[t * a->n_blocks + 4 * j / kActBlock];
        a->lane_neg_sum[t * lanes + j] = -(l[0] + l[1] + l[2] + l[3]);
      }
    }
  }
}

void QuantizeActivations(const GroupGeometry& geo, const float* x, int64_t cols,
                         int64_t n_tokens, ActQ* a) {
  PrepareActivations(geo, cols, n_tokens, 0, a);
  QuantizeTokensScalar(geo, x, cols, 0, n_tokens, a);
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
