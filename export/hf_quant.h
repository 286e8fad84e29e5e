// 4-bit group quantization in the two Hugging Face checkpoint packings that
// vLLM, SGLang and transformers load (docs/export.md):
//  - AWQ "gemm" (AutoAWQ WQLinear_GEMM): qweight int32 [in, out/8], the
//    eight 4-bit codes of output columns 8c..8c+7 of one input row in the
//    nibble order [0, 2, 4, 6, 1, 3, 5, 7] (nibble i = column 8c + order[i]);
//    qzeros int32 [in/g, out/8] packed the same way; scales f16 [in/g, out];
//    w[o, k] = (q - z) * s.
//  - GPTQ (v1 "gptq" checkpoint format, desc_act false): qweight int32
//    [in/8, out], nibble j of word (i, o) = code of input row 8i + j;
//    qzeros int32 [in/g, out/8], nibble j = zero of column 8c + j, stored
//    minus one; scales f16 [in/g, out]; g_idx int32 [in] = k / g;
//    w[o, k] = (q - (stored zero + 1)) * s.
// glmq q4 (d * (u - 8)) is exactly zero point 8 with scale d; q4a
// (s * u + m) is exact where every group's min is -z * s for an integer
// z in [0, 15] (GPTQ v1: [1, 15], a stored zero of -1 does not exist).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "schema/glmq.pb.h"

namespace glmq::gguf {

enum class HfQuantFormat { kAwq, kGptq };

// Codes, scales and zero points of a [out, in] matrix with groups of `group`
// input values (group = in: one group per row).
struct Int4Matrix {
  int64_t out = 0, in = 0, group = 0;
  std::vector<uint8_t> q;        // [out, in] codes 0..15
  std::vector<uint16_t> scales;  // [out, in / group] f16 bits
  std::vector<uint8_t> zeros;    // [out, in / group] 0..15
  int64_t groups() const { return in / group; }
};

// From rows [row_begin, row_end) of a glmq q4 / q4a tensor. Error naming
// `tensor` where the encoding has no zero-point form (q8, a q4a min that
// is not -z * s) or the groups do not tile the row.
absl::StatusOr<Int4Matrix> Int4FromGlmq(const pb::TensorEntry& entry, const uint8_t* rows_data,
                                        int64_t n_rows, absl::string_view tensor);
// Back to glmq rows of (encoding, group_size): q4 if every zero is 8, else
// q4a with min = -z * s (error if that is not exact in f16).
absl::Status Int4ToGlmq(const Int4Matrix& m, pb::Encoding encoding, uint8_t* out,
                        absl::string_view tensor);

struct PackedInt4 {
  std::vector<int32_t> qweight, qzeros, g_idx;  // g_idx: GPTQ only
  std::vector<uint16_t> scales;
  std::vector<int64_t> qweight_shape, qzeros_shape, scales_shape;
};
PackedInt4 PackInt4(const Int4Matrix& m, HfQuantFormat format);
// The inverse, for output rows [row_begin, row_end) of an [out, in]
// matrix (the result has row_end - row_begin rows). Error for a GPTQ
// stored zero of 15 (zero point 16).
absl::StatusOr<Int4Matrix> UnpackInt4(HfQuantFormat format, const int32_t* qweight,
                                      const int32_t* qzeros, const uint16_t* scales, int64_t out,
                                      int64_t in, int64_t group, int64_t row_begin,
                                      int64_t row_end);
// The consumer's dequantization, from the packed tensors by the published
// layout (f32 arithmetic): w [out, in].
void DequantizePacked(HfQuantFormat format, const PackedInt4& p, int64_t out, int64_t in,
                      int64_t group, float* w);

}  // namespace glmq::gguf
