// Calibration cost on synthetic GLM-4-shaped layers (never a test):
// statistics collection per token, GPTQ and AWQ per linear layer with their
// default options. Shapes include GLM-4-9B's (hidden 4096, ffn 13696, qkv
// rows 4608); peak RSS is reported as a counter. Set OMP_NUM_THREADS (and
// OMP_WAIT_POLICY=passive on a shared machine) yourself.
#include <sys/resource.h>

#include <algorithm>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "quant/calib/activations.h"
#include "quant/calib/awq.h"
#include "quant/gemm.h"
#include "quant/calib/gptq.h"
#include "schema/encodings.h"
#include "quant/quantize.h"
#include "runtime/calib/stats.h"

namespace glmq {
namespace {

std::vector<float> Randn(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d;
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

double PeakRssMiB() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;
}

// Args: cols (input channels), tokens.
void BM_CollectStats(benchmark::State& state) {
  const int64_t cols = state.range(0), tokens = state.range(1);
  std::vector<float> x = Randn(256 * cols, 1);
  for (auto _ : state) {
    StatsCollector c(StatsOptions{});
    for (int64_t t = 0; t < tokens; t += 256)
      c.Observe(0, LinearInput::kAttnQkv, x.data(), 256, cols);
    benchmark::DoNotOptimize(c.Finish());
  }
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(tokens) * state.iterations(),
                                                  benchmark::Counter::kIsRate);
  state.counters["peak_rss_MiB"] = PeakRssMiB();
}
BENCHMARK(BM_CollectStats)
    ->Args({1024, 4096})
    ->Args({1024, 16384})
    ->Args({4096, 4096})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

// One thread's SubMatMul (gemm.h) on GPTQ's shapes: Args m, n, k, f64?
// (64 x 13696 x 128: a sweep tile's lazy update / a Cholesky row block).
template <typename T>
void SubMatMulLoop(benchmark::State& state) {
  const int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  std::vector<float> af = Randn(m * k, 1), bf = Randn(k * n, 2);
  std::vector<T> a(af.begin(), af.end()), b(bf.begin(), bf.end()), c(m * n, T{0});
  for (auto _ : state) {
    gemm::SubMatMul(m, n, k, a.data(), k, b.data(), n, c.data(), n);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GMAC/s"] = benchmark::Counter(
      static_cast<double>(m * n * k) * state.iterations() * 1e-9, benchmark::Counter::kIsRate);
}
void BM_SubMatMulF32(benchmark::State& state) { SubMatMulLoop<float>(state); }
void BM_SubMatMulF64(benchmark::State& state) { SubMatMulLoop<double>(state); }
BENCHMARK(BM_SubMatMulF32)
    ->Args({64, 13696, 128})
    ->Args({128, 256, 4096})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SubMatMulF64)
    ->Args({64, 13696, 128})
    ->Args({128, 256, 4096})
    ->Unit(benchmark::kMillisecond);

// Args: rows, cols. GPTQ cost does not depend on the number of tokens
// (only H does, through BM_CollectStats). H from 512 random tokens (rank
// deficient for cols > 512: the dampening makes it definite, as with dead
// channels in real statistics). {4096, 13696} is GLM-4-9B's ffn_down.
void BM_GptqLinear(benchmark::State& state) {
  const int64_t rows = state.range(0), cols = state.range(1), n = 512;
  std::vector<double> h;
  {
    std::vector<float> x = Randn(n * cols, 2);
    StatsCollector c(StatsOptions{});
    c.Observe(0, LinearInput::kAttnQkv, x.data(), n, cols);
    h = std::move(c.Finish()[0].xtx);
  }
  std::vector<float> w = Randn(rows * cols, 3);
  std::vector<uint8_t> out(rows * ((cols + 127) / 128) * 66);
  for (auto _ : state) {
    auto prep = calib::GptqPrepare(h.data(), cols, 2.0 / n, {});
    if (!prep.ok()) state.SkipWithError(std::string(prep.status().message()).c_str());
    auto r = calib::GptqQuantizeRows(*prep, w.data(), rows, {pb::ENCODING_Q4_SYM, 128, 0}, 128,
                                     out.data());
    benchmark::DoNotOptimize(r);
  }
  state.counters["peak_rss_MiB"] = PeakRssMiB();
}
BENCHMARK(BM_GptqLinear)
    ->Args({1152, 1024})
    ->Args({4608, 4096})
    ->Args({4096, 13696})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

// Args: rows, cols, sample tokens. What `--method awq` does per linear by
// default: the alpha search on AwqOptions::search_rows sampled weight rows
// with the loss on the activation sample, then the final encoding of every
// row, candidates ranked by the output error on E[x x^T]'s diagonal blocks
// (here from the sample itself).
void BM_AwqLinear(benchmark::State& state) {
  const int64_t rows = state.range(0), cols = state.range(1), n = state.range(2);
  std::vector<float> x = Randn(n * cols, 4), w = Randn(rows * cols, 5);
  std::vector<float> mean_abs(cols, 0.f);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t j = 0; j < cols; ++j) mean_abs[j] += std::abs(x[t * cols + j]) / n;
  const QuantSpec spec{pb::ENCODING_Q4_SYM, 128, 8};
  // X^T X on the 128-channel diagonal blocks only (all AddGramBlocks reads);
  // calloc leaves the rest of the cols^2 array untouched (not resident).
  double* xtx = static_cast<double*>(std::calloc(cols * cols, sizeof(double)));
  for (int64_t t = 0; t < n; ++t)
    for (int64_t i = 0; i < cols; ++i)
      for (int64_t j = i / 128 * 128; j < std::min(cols, i / 128 * 128 + 128); ++j)
        xtx[i * cols + j] += double{x[t * cols + i]} * x[t * cols + j];
  calib::ActivationModel act = calib::ActivationModel::FromSamples(x, n, cols).value();
  if (!act.AddGramBlocks(xtx, 1.0 / n, 128).ok()) state.SkipWithError("blocks");
  std::free(xtx);
  GroupGeometry geo = GetGroupGeometry(spec.encoding, spec.group_size, cols).value();
  std::vector<uint8_t> out(rows * geo.row_bytes);
  for (auto _ : state) {
    auto s = calib::AwqSearchScale(w.data(), rows, cols, act, mean_abs, spec, {}).value();
    const calib::ActivationModel scaled = act.Scaled(s.scale);
    std::vector<float> ws(w);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < cols; ++j) ws[r * cols + j] *= s.scale[j];
    QuantWeighting weighting;
    weighting.rank = [&scaled](int64_t, int64_t begin, const float* d, int64_t len, int64_t k,
                               double* err) { scaled.GroupErrors(d, begin, len, k, err); };
    auto r = QuantizeMatrixWeighted(ws.data(), rows, cols, spec, weighting, out.data(), nullptr);
    benchmark::DoNotOptimize(r);
  }
  state.counters["peak_rss_MiB"] = PeakRssMiB();
}
// The 9B's attn_qkv and ffn_down at 128, 256 and 512 sample tokens: how
// AWQ's cost follows the calibration tokens (the sample is capped at
// --samples, 512, so more tokens than that cost it nothing more).
BENCHMARK(BM_AwqLinear)
    ->Args({1152, 1024, 512})
    ->Args({4608, 4096, 128})
    ->Args({4608, 4096, 256})
    ->Args({4608, 4096, 512})
    ->Args({4096, 13696, 128})
    ->Args({4096, 13696, 256})
    ->Args({4096, 13696, 512})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

}  // namespace
}  // namespace glmq

BENCHMARK_MAIN();
