// Quantized weight x f32 activation matrix products for the CPU runtime.
// The scalar reference defines the result; AVX2 and AVX-512 VNNI versions
// are chosen at run time and tested against it. Byte layouts:
// specs/encodings.md.
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "core/cpu_features.h"
#include "schema/glmq.pb.h"

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
// x: [n_tokens, cols] f32, y: [n_tokens, rows] f32. Uses OpenMP over rows
// with n_threads threads (0: OpenMP's default; 1: no parallel region).
// x is quantized per token to int8 in blocks of 32 (f32 scale); products
// are int32 per block, scaled and summed in f32 (qmatmul_internal.h).
// Precondition: ValidateQuantWeight(w) is OK (else y is filled with NaN).
void QuantMatMul(const QuantWeightView& w, const float* x, int64_t n_tokens, float* y,
                 int n_threads = 0);

// Checks encoding, group size and that size == rows * row bytes; the
// runtime calls it once per weight at load time.
absl::Status ValidateQuantWeight(const QuantWeightView& w);

// QuantMatMul with an explicit kernel level (tests, benchmarks). A level the
// CPU lacks falls back to the best one it has below it; kAvx512 needs
// AVX-512 VNNI. Returns the level that ran.
SimdLevel QuantMatMulAtLevel(SimdLevel level, const QuantWeightView& w, const float* x,
                             int64_t n_tokens, float* y, int n_threads = 0);

}  // namespace glmq
