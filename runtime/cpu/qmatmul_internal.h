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

#include "runtime/cpu/qmatmul.h"
#include "schema/encodings.h"

namespace glmq::qk {

constexpr int64_t kActBlock = 32;

// The GEMV kernels also read, per 4 consecutive activations (one int32
// lane of a dot-product instruction), their block's scale and minus their
// sum: a product of stored values biased by +b (q8 as u8 = w + 128, q4
// nibbles = value + 8) becomes exact by starting the int32 accumulator at
// b * lane_neg_sum, which removes the offset term per group.
//
// The GEMM (qgemm_impl.h, n_tokens >= 2) reads per block the same bias
// term in int32 (block_bias = -b x the block's q sum, b = 128 for q8, 8 for
// q4, 0 for q4a) and d_b x the q sum (block_fsum, for q4a's min term).
//
// q and the per-block arrays are cut into K blocks of kc values (kc = padded
// for the GEMV: one block, i.e. [n_tokens, padded]); inside a K block the
// tokens follow each other (q: [padded / kc][n_tokens][kc], per-block
// arrays: [padded / kc][n_tokens][kc / 32]), so that the GEMM's tile of
// tokens reads kc-byte-apart rows of one K block (QIndex, BIndex).
struct ActQ {
  int64_t n_tokens = 0;
  int64_t padded = 0;    // per token, multiple of 64, >= n_groups * g
  int64_t n_blocks = 0;  // padded / 32
  int64_t n_groups = 0;
  int64_t kc = 0;                   // values per K block: padded, or the GEMM's (a multiple of 64)
  bool lanes = false;               // lane_scale / lane_neg_sum filled (GEMV, kc == padded)
  std::vector<int8_t> q;            // zero beyond cols
  std::vector<float> scale;         // per block
  std::vector<int32_t> block_bias;  // per block: -b * sum of the block's q
  std::vector<float> block_fsum;    // per block: scale * float(sum of its q)
  std::vector<float> group_sum;     // [n_tokens, n_groups] F_g
  std::vector<float> lane_scale;    // [n_tokens, padded / 4]: scale of the lane's block
  std::vector<int32_t> lane_neg_sum;  // [n_tokens, padded / 4]: -(q[4j] + ... + q[4j + 3])

  // Index of value k of token t in q, and of block b of token t.
  int64_t QIndex(int64_t t, int64_t k) const { return (k / kc * n_tokens + t) * kc + k % kc; }
  int64_t BIndex(int64_t t, int64_t b) const {
    const int64_t per = kc / kActBlock;
    return (b / per * n_tokens + t) * per + b % per;
  }
};

// Sizes `a` for n_tokens tokens of `cols` values in K blocks of kc values
// (0: one block of `padded`, with the GEMV's lane arrays). Touches no value
// (the quantizers below write every one).
void PrepareActivations(const GroupGeometry& geo, int64_t cols, int64_t n_tokens, int64_t kc,
                        ActQ* a);
// Quantizes tokens [t0, t1) of x ([n_tokens, cols]) into a prepared `a`: the
// scalar reference, and AVX2 / AVX-512 versions that write the same bits
// (same f32 operations; rounding to nearest even). Threads may quantize
// disjoint token ranges at once.
using QuantizeTokensFn = void (*)(const GroupGeometry& geo, const float* x, int64_t cols,
                                  int64_t t0, int64_t t1, ActQ* a);
void QuantizeTokensScalar(const GroupGeometry& geo, const float* x, int64_t cols, int64_t t0,
                          int64_t t1, ActQ* a);
void QuantizeTokensAvx2(const GroupGeometry& geo, const float* x, int64_t cols, int64_t t0,
                        int64_t t1, ActQ* a);
void QuantizeTokensAvx512(const GroupGeometry& geo, const float* x, int64_t cols, int64_t t0,
                          int64_t t1, ActQ* a);
// PrepareActivations + QuantizeTokensScalar of every token, with lanes.
void QuantizeActivations(const GroupGeometry& geo, const float* x, int64_t cols, int64_t n_tokens,
                         ActQ* a);
// b of block_bias: the bias of the stored values that enter the dot products.
inline int32_t StoredBias(const EncodingTraits& t) {
  return t.value_bits == 8 ? 128 : t.has_min ? 0 : 8;
}

// Computes y[t, r] for r in [r0, r1), all tokens. y is [n_tokens, rows].
using RowsKernel = void (*)(const WeightView& w, const GroupGeometry& geo, const ActQ& a,
                            int64_t r0, int64_t r1, float* y);

void RowsScalar(const WeightView& w, const GroupGeometry& geo, const ActQ& a, int64_t r0,
                int64_t r1, float* y);
// SIMD kernels need groups made of whole 32-value blocks: q8 g % 32 == 0,
// q4/q4a g == 32 or g % 64 == 0 (SimdGeometryOk); otherwise scalar runs.
bool SimdGeometryOk(const GroupGeometry& geo);
void RowsAvx2(const WeightView& w, const GroupGeometry& geo, const ActQ& a, int64_t r0, int64_t r1,
              float* y);
void RowsAvx512(const WeightView& w, const GroupGeometry& geo, const ActQ& a, int64_t r0,
                int64_t r1, float* y);

// The prefill GEMM (qgemm_impl.h): groups of whole 32-value blocks that each
// lie in one nibble half of a 4-bit group (QGemmGeometryOk: q8 g % 32 ==
// 0; q4/q4a g == 32 or g % 64 == 0), any token count. Rows [r0, r1) of y, all tokens;
// r0 a multiple of the level's panel height (QGemmPanelRows) so that
// threads split the rows in whole panels.
constexpr int kQGemmRowsAvx512 = 32;  // two vectors of 16 int32 lanes
// Values per K block of the GEMM's weight panels and activations (ActQ::kc).
constexpr int64_t kQGemmKc = 512;
constexpr int kQGemmRowsAvx2 = 8;
inline bool QGemmGeometryOk(const GroupGeometry& geo) {
  return geo.traits->value_bits == 8 ? geo.g % 32 == 0 : geo.g == 32 || geo.g % 64 == 0;
}
inline int64_t QGemmPanelRows(SimdLevel level) {
  return level == SimdLevel::kAvx512 ? kQGemmRowsAvx512 : kQGemmRowsAvx2;
}
void QGemmAvx2(const WeightView& w, const GroupGeometry& geo, const ActQ& a, int64_t r0, int64_t r1,
               float* y);
// QGemmAvx2 with AVX-VNNI (qgemm_avxvnni.cc): the same results.
void QGemmAvxVnni(const WeightView& w, const GroupGeometry& geo, const ActQ& a, int64_t r0,
                  int64_t r1, float* y);
void QGemmAvx512(const WeightView& w, const GroupGeometry& geo, const ActQ& a, int64_t r0,
                 int64_t r1, float* y);

}  // namespace glmq::qk
