// Quantized weight x f32 activation matrix products for the CPU runtime.
// The scalar reference defines the result; AVX2 and AVX-512 VNNI versions
// are chosen at run time and tested against it. Byte layouts:
// specs/encodings.md.
#pragma once

#include <cstdint>

#include "format/glmq.pb.h"

namespace glmq {

// A quantized [rows, cols] weight in one of the Q* encodings, as stored in
// the file (zero-copy view into the mapping).
struct QuantWeightView {
  pb::Encoding encoding = pb::ENCODING_UNSPECIFIED;
  int32_t group_size = 0;  // 0 = one group per row
  int64_t rows = 0;        // out_features
  int64_t cols = 0;        // in_features
  const uint8_t* data = nullptr;
  uint64_t size = 0;       // bytes, == EncodedBytes(...)
};

// y[t, r] = sum_c W[r, c] * x[t, c] for t < n_tokens, r < rows.
// x: [n_tokens, cols] f32, y: [n_tokens, rows] f32. Uses OpenMP over rows.
void QuantMatMul(const QuantWeightView& w, const float* x, int64_t n_tokens, float* y);

}  // namespace glmq
