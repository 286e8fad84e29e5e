// QuantMatMul dispatch: checks the encoding, quantizes the activations once,
// then splits the rows over OpenMP threads and runs the kernel of the
// active SIMD level: the GEMM (qgemm_impl.h) for two or more tokens, the
// GEMV for one, scalar when the group geometry is not SIMD-friendly.
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

// n_tokens >= 2 with whole 32-value groups: the GEMM (qgemm_impl.h). The
// threads quantize disjoint token ranges, meet, then each takes one
// contiguous range of whole weight panels.
SimdLevel RunGemm(SimdLevel level, const WeightView& w, const GroupGeometry& geo, const float* x,
                  int64_t n_tokens, float* y, int n_threads) {
  thread_local qk::ActQ act;
  qk::PrepareActivations(geo, w.cols, n_tokens, qk::kQGemmKc, &act);
  const qk::QuantizeTokensFn quantize =
      level == SimdLevel::kAvx512 ? qk::QuantizeTokensAvx512 : qk::QuantizeTokensAvx2;
  const qk::RowsKernel gemm = level == SimdLevel::kAvx512 ? qk::QGemmAvx512
                              : GetCpuFeatures().avx_vnni ? qk::QGemmAvxVnni
                                                          : qk::QGemmAvx2;
  const int64_t panel = qk::QGemmPanelRows(level);
  const int64_t n_panels = (w.rows + panel - 1) / panel;
  qk::ActQ* a = &act;
#pragma omp parallel num_threads(n_threads) if (n_threads > 1)
  {
    const int64_t nt = omp_get_num_threads(), id = omp_get_thread_num();
    quantize(geo, x, w.cols, n_tokens * id / nt, n_tokens * (id + 1) / nt, a);
#pragma omp barrier
    const int64_t p0 = n_panels * id / nt, p1 = n_panels * (id + 1) / nt;
    if (p0 < p1) gemm(w, geo, *a, p0 * panel, std::min(w.rows, p1 * panel), y);
  }
  return level;
}

}  // namespace

absl::StatusOr<SimdLevel> QuantMatMulAtLevel(SimdLevel level, const WeightView& w, const float* x,
                                             int64_t n_tokens, float* y, int n_threads) {
  absl::StatusOr<GroupGeometry> g = GetGroupGeometry(w.encoding, w.group_size, w.cols);
  if (!g.ok()) return Annotate(g.status(), absl::StrCat("matmul of tensor '", w.name, "'"));
  if (n_tokens <= 0) return SimdLevel::kScalar;
  const GroupGeometry& geo = *g;
  if (n_threads <= 0) n_threads = omp_get_max_threads();
  level = Usable(level);
  if (n_tokens >= 2 && level != SimdLevel::kScalar && qk::QGemmGeometryOk(geo))
    return RunGemm(level, w, geo, x, n_tokens, y, n_threads);
  thread_local qk::ActQ act;  // reused across calls: no allocation per decode step
  qk::PrepareActivations(geo, w.cols, n_tokens, 0, &act);
  const qk::QuantizeTokensFn quantize = level == SimdLevel::kAvx512 ? qk::QuantizeTokensAvx512
                                        : level == SimdLevel::kAvx2 ? qk::QuantizeTokensAvx2
                                                                    : qk::QuantizeTokensScalar;
  quantize(geo, x, w.cols, 0, n_tokens, &act);
  level = qk::SimdGeometryOk(geo) ? level : SimdLevel::kScalar;
  qk::RowsKernel kernel = level == SimdLevel::kAvx512 ? qk::RowsAvx512
                          : level == SimdLevel::kAvx2 ? qk::RowsAvx2
                                                      : qk::RowsScalar;
  constexpr int64_t kRowChunk = 16;
  const int64_t n_chunks = (w.rows + kRowChunk - 1) / kRowChunk;
  const qk::ActQ& a = act;
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
