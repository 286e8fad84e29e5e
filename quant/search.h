// The per-group scale search of QuantizeMatrix ("Searched RTN" in
// specs/encodings.md), one row at a time, in three bit-identical versions:
// a scalar reference (search_scalar.cc, the spec) and AVX2 / AVX-512 ones
// (search_avx2.cc, search_avx512.cc) chosen at run time. Internal to
// glmq_quant; QuantizeMatrix is the API.
//
// Every sum over a group is taken in 16 f32 lanes (value i goes to lane
// i % 16, in order), the lanes then added as a tree (8, 4, 2, 1): the SIMD
// versions do exactly these operations (fused multiply-adds included), so
// all levels write the same bytes.
#pragma once

#include <cstdint>

#include "core/cpu_features.h"
#include "core/dtype.h"
#include "schema/encodings.h"

namespace glmq::search {

// Error sums of one row (padding excluded), added into by the row functions.
struct RowStats {
  double sum_sq_err = 0;       // sum (x - deq)^2
  double sum_sq = 0;           // sum x^2
  double weighted_sq_err = 0;  // sum imp[c] (x - deq)^2 (== sum_sq_err without imp)
  double max_abs_err = 0;
};

// Quantizes row x[cols] into geo.row_bytes bytes at out. `w` (null = all 1)
// are the [cols] non-negative error weights of the search, `imp` (null =
// all 1) those of RowStats::weighted_sq_err. grid: QuantSpec::search_grid.
// Thread-safe (no shared state).
using RowFn = void (*)(const GroupGeometry& geo, const float* x, const float* w,
                       const float* imp, int64_t cols, int grid, uint8_t* out, RowStats* stats);

void QuantizeRowScalar(const GroupGeometry& geo, const float* x, const float* w,
                       const float* imp, int64_t cols, int grid, uint8_t* out, RowStats* stats);
void QuantizeRowAvx2(const GroupGeometry& geo, const float* x, const float* w, const float* imp,
                     int64_t cols, int grid, uint8_t* out, RowStats* stats);
void QuantizeRowAvx512(const GroupGeometry& geo, const float* x, const float* w,
                       const float* imp, int64_t cols, int grid, uint8_t* out, RowStats* stats);

// Converts row src[n], stored as f16 or bf16 (`dtype`), to f32 in dst[n]
// and returns whether every value is finite with |x| <= 65504 (what an f16
// scale can hold). The conversion is exact, so every level writes the same
// floats. Thread-safe.
using LoadRowFn = bool (*)(DType dtype, const void* src, int64_t n, float* dst);
bool LoadRowScalar(DType dtype, const void* src, int64_t n, float* dst);
bool LoadRowAvx2(DType dtype, const void* src, int64_t n, float* dst);
bool LoadRowAvx512(DType dtype, const void* src, int64_t n, float* dst);
LoadRowFn SelectLoadRowFn(SimdLevel level);

// The row function of `level` (capped to what the CPU has); returns the
// level actually used in *used if non-null.
RowFn SelectRowFn(SimdLevel level, SimdLevel* used = nullptr);

}  // namespace glmq::search
