// Quantized weight x f32 activation matrix products for the CPU runtime.
// The scalar reference defines the result; AVX2 and AVX-512 VNNI versions
// are chosen at run time and tested against it. Byte layouts:
// specs/encodings.md.
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "core/cpu_features.h"
#include "absl/status/statusor.h"
#include "schema/glmq.pb.h"
#include "schema/weight.h"

namespace glmq {

// y[t, r] = sum_c W[r, c] * x[t, c] for t < n_tokens, r < rows.
// x: [n_tokens, cols] f32, y: [n_tokens, rows] f32. Uses OpenMP over rows
// with n_threads threads (0: OpenMP's default; 1: no parallel region).
// x is quantized per token to int8 in blocks of 32 (f32 scale); products
// are int32 per block, scaled and summed in f32 (qmatmul_internal.h).
// `w` is a checked view (MakeWeightView: its size fits its encoding and
// shape); an encoding that is not group-quantized is an error naming the
// tensor, and y is then untouched.
absl::Status QuantMatMul(const WeightView& w, const float* x, int64_t n_tokens, float* y,
                         int n_threads = 0);

// QuantMatMul with an explicit kernel level (tests, benchmarks). A level the
// CPU lacks falls back to the best one it has below it; kAvx512 needs
// AVX-512 VNNI. Returns the level that ran.
absl::StatusOr<SimdLevel> QuantMatMulAtLevel(SimdLevel level, const WeightView& w, const float* x,
                                             int64_t n_tokens, float* y, int n_threads = 0);

}  // namespace glmq
