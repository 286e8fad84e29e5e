// QuantMatMul dispatch: checks the encoding, quantizes the activations once,
// then splits the rows over OpenMP threads and runs the kernel of the
// active SIMD level (scalar when the group geometry is not SIMD-friendly).
#include "runtime/cpu/qmatmul.h"

#include <omp.h>

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "runtime/cpu/qmatmul_internal.h"

namespace glmq {

namespace {

SimdLevel Usable(SimdLevel want) {
  const CpuFeatures& f = GetCpuFeatures();
  if (want == SimdLevel::kAvx512 && f.avx512 && f.avx512_vnni) return SimdLevel::kAvx512;
  if (want != SimdLevel::kScalar && f.avx2) return SimdLevel::kAvx2;
  return SimdLevel::kScalar;
}

}  // namespace

absl::StatusOr<SimdLevel> QuantMatMulAtLevel(SimdLevel level, const WeightView& w, const float* x,
                                             int64_t n_tokens, float* y, int n_threads) {
  absl::StatusOr<GroupGeometry> g = GetGroupGeometry(w.encoding, w.group_size, w.cols);
  if (!g.ok()) return Annotate(g.status(), absl::StrCat("matmul of tensor '", w.name, "'"));
  if (n_tokens <= 0) return SimdLevel::kScalar;
  const GroupGeometry& geo = *g;
  thread_local qk::ActQ act;  // reused across calls: no allocation per decode step
  qk::QuantizeActivations(geo, x, w.cols, n_tokens, &act);
  level = qk::SimdGeometryOk(geo) ? Usable(level) : SimdLevel::kScalar;
  qk::RowsKernel kernel = level == SimdLevel::kAvx512 ? qk::RowsAvx512
                          : level == SimdLevel::kAvx2 ? qk::RowsAvx2
                                                      : qk::RowsScalar;
  constexpr int64_t kRowChunk = 16;
  const int64_t n_chunks = (w.rows + kRowChunk - 1) / kRowChunk;
  const qk::ActQ& a = act;
  if (n_threads <= 0) n_threads = omp_get_max_threads();
  // One contiguous range of whole chunks per thread, in one kernel call (the
  // GEMV streams each cover a part of it: qmatmul_avx512.cc).
#pragma omp parallel num_threads(n_threads) if (n_chunks > 1 && n_threads > 1)
  {
    const int64_t nt = omp_get_num_threads(), id = omp_get_thread_num();
    const int64_t c0 = n_chunks * id / nt, c1 = n_chunks * (id + 1) / nt;
    if (c0 < c1) kernel(w, geo, a, c0 * kRowChunk, std::min(w.rows, c1 * kRowChunk), y);
  }
  return level;
}

absl::Status QuantMatMul(const WeightView& w, const float* x, int64_t n_tokens, float* y,
                         int n_threads) {
  return QuantMatMulAtLevel(ActiveSimdLevel(), w, x, n_tokens, y, n_threads).status();
}

}  // namespace glmq
