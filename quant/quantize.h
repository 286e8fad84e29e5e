// Round-to-nearest quantization done well: per group, a small search over
// scale (and min) candidates picks the one with the lowest squared error,
// optionally weighted per input channel by an importance vector (imatrix /
// AWQ-style statistics plug in there). Output bytes follow
// specs/encodings.md exactly; quant/reference.h defines them.
#pragma once

#include <cstdint>
#include <functional>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/dtype.h"
#include "schema/glmq.pb.h"

namespace glmq {

// The scale search's default grid for an encoding: 8 for q4 / q4a; 1 for
// q8 (only the absmax candidate and its refit: on N(0, 0.02) and on the
// trained fixtures' weights shrinking never won, the same bytes as grid 8,
// docs/benchmarks.md).
int DefaultSearchGrid(pb::Encoding encoding);

// Largest search_grid accepted: the candidates per group grow with it
// (2 x grid for q4), and past a few dozen shrink steps nothing improves.
inline constexpr int kMaxSearchGrid = 256;

struct QuantSpec {
  pb::Encoding encoding = pb::ENCODING_Q8_SYM;
  int group_size = 32;  // 0 = one group per row
  // Scale search: 0 = plain absmax / min-max RTN (QuantizeRowRef); otherwise
  // the number of shrink factors tried per group, the two best (q4a: four)
  // of which get one weighted least-squares refit of scale [and min]
  // (specs/encodings.md, "Searched RTN"). The absmax candidate is always tried, so the search is
  // never worse than RTN. Defaults to the encoding's DefaultSearchGrid.
  // Within [0, kMaxSearchGrid]: the quantizers refuse anything else.
  int search_grid = DefaultSearchGrid(encoding);
};

// InvalidArgument if spec.search_grid is outside [0, kMaxSearchGrid].
absl::Status CheckSearchGrid(const QuantSpec& spec);

// Error sums over the quantized values (padding excluded). Additive: merge
// the stats of row chunks with Add().
struct QuantStats {
  double sum_sq_err = 0;        // sum (w - deq)^2
  double sum_sq = 0;            // sum w^2
  double weighted_sq_err = 0;   // sum importance[c] * (w - deq)^2 (== sum_sq_err without)
  double max_abs_err = 0;
  int64_t n_values = 0;
  void Add(const QuantStats& o);
  // sum_sq_err / sum_sq (0 for an all-zero tensor).
  double nmse() const { return sum_sq > 0 ? sum_sq_err / sum_sq : 0.0; }
};

// Quantizes w [rows, cols] (row-major f32) into `out`, rows * row_bytes
// bytes (GetGroupGeometry). `importance` is null or [cols] non-negative
// weights for the squared error of each input channel. OpenMP over rows.
// Returns the NMSE; fills *stats if non-null. Errors: bad encoding/group
// size, non-finite values or importance, values whose scale exceeds f16.
absl::StatusOr<double> QuantizeMatrix(const float* w, int64_t rows, int64_t cols,
                                      const QuantSpec& spec, const float* importance,
                                      uint8_t* out, QuantStats* stats);

// How QuantizeMatrixWeighted's scale search scores a candidate of one group.
// The candidates are QuantizeMatrix's bases (the plain RTN one, the shrunken
// ones); with `rank`, every base also gets its least-squares refit (the
// default search refits only the best ones, specs/encodings.md), so ranking
// never loses to QuantizeMatrix's choice.
struct QuantWeighting {
  // [cols] non-negative per-input-channel weights, or null (all 1).
  const float* importance = nullptr;
  // Multiply the weight of element (r, c) by sqrt(sigma2_r + w[r, c]^2),
  // sigma2_r = mean_c w[r, c]^2 (llama.cpp's use of an imatrix): within a
  // channel, large weights count more. Used by the refits too.
  bool magnitude = false;
  // If set, candidates are ranked by rank instead of the weighted squared
  // error: rank(row, begin, d, n, k, err) scores the k candidates of one
  // group at once, err[c] for d + c n = deq_c - w over the n values of the
  // group that starts at column `begin` (e.g. the output error
  // d^T E[x x^T] d); the first candidate of least err wins. The refits stay
  // weighted least squares. Called concurrently from OpenMP threads: must be
  // thread-safe.
  std::function<void(int64_t row, int64_t begin, const float* d, int64_t n, int64_t k,
                     double* err)>
      rank;
};

// QuantizeMatrix with a QuantWeighting; QuantizeMatrix(..., importance, ...)
// is QuantizeMatrixWeighted with {importance}. QuantStats::weighted_sq_err
// uses the per-channel importance only.
absl::StatusOr<double> QuantizeMatrixWeighted(const float* w, int64_t rows, int64_t cols,
                                              const QuantSpec& spec,
                                              const QuantWeighting& weighting, uint8_t* out,
                                              QuantStats* stats);

// QuantizeMatrix for rows stored as f32, f16 or bf16 (`dtype`), the same
// bytes and stats: each row is converted to f32 (exact) in a per-thread
// buffer and range-checked just before it is searched, so the matrix is
// read once, in its stored width, and no f32 copy of it is made. On a bad
// value the error names the first bad row (as QuantizeMatrix); `out` is
// then partly written.
absl::StatusOr<double> QuantizeMatrixRaw(DType dtype, const void* w, int64_t rows, int64_t cols,
                                         const QuantSpec& spec, const float* importance,
                                         uint8_t* out, QuantStats* stats);

// Size of QuantizeMatrix's output for [rows, cols].
absl::StatusOr<uint64_t> QuantizedBytes(const QuantSpec& spec, int64_t rows, int64_t cols);

}  // namespace glmq
