// Internals shared by the QuantMatMul implementations (scalar, AVX2,
// AVX-512 VNNI). Not part of the runtime API.
//
// Activations are quantized per token in blocks of 32 values (kActBlock),
// independent of the weight group size: q = rint(x * 127 / max|x|), f32
// scale. Each weight group then contributes
//   scale_g * sum_b ascale_b * I_gb + offset_g * F_g
// where I_gb is the int32 dot product of the group's signed values (q8) or
// stored nibbles (q4/q4a) with block b's int8 activations, F_g the sum of
// the group's dequantized activations and offset_g = -8 * scale_g (q4),
// min_g (q4a) or 0 (q8).
#pragma once

#include <cstdint>
#include <vector>

#include "schema/encodings.h"
#include "runtime/cpu/qmatmul.h"

namespace glmq::qk {

constexpr int64_t kActBlock = 32;

// The GEMV kernels also read, per 4 consecutive activations (one int32
// lane of a dot-product instruction), their block's scale and minus their
// sum: a product of stored values biased by +b (q8 as u8 = w + 128, q4
// nibbles = value + 8) becomes exact by starting the int32 accumulator at
// b * lane_neg_sum, which removes the offset term per group.
struct ActQ {
  int64_t n_tokens = 0;
  int64_t padded = 0;            // per token, multiple of 64, >= n_groups * g
  int64_t n_blocks = 0;          // padded / 32
  int64_t n_groups = 0;
  std::vector<int8_t> q;         // [n_tokens, padded], zero beyond cols
  std::vector<float> scale;      // [n_tokens, n_blocks]
  std::vector<float> group_sum;  // [n_tokens, n_groups] F_g
  std::vector<float> lane_scale;     // [n_tokens, padded / 4]: scale of the lane's block
  std::vector<int32_t> lane_neg_sum; // [n_tokens, padded / 4]: -(q[4j] + ... + q[4j + 3])
};

void QuantizeActivations(const GroupGeometry& geo, const float* x, int64_t cols,
                         int64_t n_tokens, ActQ* a);

// Computes y[t, r] for r in [r0, r1), all tokens. y is [n_tokens, rows].
using RowsKernel = void (*)(const WeightView& w, const GroupGeometry& geo, const ActQ& a,
                            int64_t r0, int64_t r1, float* y);

void RowsScalar(const WeightView& w, const GroupGeometry& geo, const ActQ& a, int64_t r0,
                int64_t r1, float* y);
// SIMD kernels need groups made of whole 32-value blocks: q8 g % 32 == 0,
// q4/q4a g == 32 or g % 64 == 0 (SimdGeometryOk); otherwise scalar runs.
bool SimdGeometryOk(const GroupGeometry& geo);
void RowsAvx2(const WeightView& w, const GroupGeometry& geo, const ActQ& a, int64_t r0,
              int64_t r1, float* y);
void RowsAvx512(const WeightView& w, const GroupGeometry& geo, const ActQ& a, int64_t r0,
                int64_t r1, float* y);


}  // namespace glmq::qk
