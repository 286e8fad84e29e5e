// Calibration cost on synthetic GLM-4-shaped layers (never a test):
// statistics collection per token, GPTQ and AWQ per linear layer.
// Shapes are GLM-4-9B's divided by `scale` (hidden 4096, ffn 13696,
// qkv rows 4608); peak RSS is reported as a counter.
#include <sys/resource.h>

#include <random>
#include <vector>

#include "benchmark/benchmark.h"
#include "quant/calib/activations.h"
#include "quant/calib/awq.h"
#include "quant/calib/gptq.h"
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
    for (int64_t t = 0; t < tokens; t += 256) c.Observe(0, LinearInput::kAttnQkv, x.data(), 256, cols);
    benchmark::DoNotOptimize(c.Finish());
  }
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(tokens) * state.iterations(),
                                                  benchmark::Counter::kIsRate);
  state.counters["peak_rss_MiB"] = PeakRssMiB();
}
BENCHMARK(BM_CollectStats)->Args({1024, 4096})->Args({1024, 16384})->Args({4096, 4096})
    ->Unit(benchmark::kMillisecond)->Iterations(1);

// Args: rows, cols. GPTQ cost does not depend on the number of tokens
// (only H does, through BM_CollectStats).
void BM_GptqLinear(benchmark::State& state) {
  const int64_t rows = state.range(0), cols = state.range(1), n = 2048;
  std::vector<float> x = Randn(n * cols, 2), w = Randn(rows * cols, 3);
  std::vector<double> h(cols * cols, 0.0);
  StatsCollector c(StatsOptions{});
  c.Observe(0, LinearInput::kAttnQkv, x.data(), n, cols);
  h = c.Finish()[0].xtx;
  for (double& v : h) v *= 2.0 / n;
  std::vector<uint8_t> out(rows * ((cols + 127) / 128) * 66);
  for (auto _ : state) {
    auto r = calib::GptqQuantize(w.data(), rows, cols, h, {pb::ENCODING_Q4_SYM, 128, 0}, {},
                                 out.data());
    benchmark::DoNotOptimize(r);
  }
  state.counters["peak_rss_MiB"] = PeakRssMiB();
}
BENCHMARK(BM_GptqLinear)->Args({1152, 1024})->Args({1024, 3424})->Args({4608, 4096})
    ->Unit(benchmark::kMillisecond)->Iterations(1);

// Args: rows, cols, sample tokens (AWQ's loss runs on the row sample).
void BM_AwqLinear(benchmark::State& state) {
  const int64_t rows = state.range(0), cols = state.range(1), n = state.range(2);
  std::vector<float> x = Randn(n * cols, 4), w = Randn(rows * cols, 5);
  std::vector<float> mean_abs(cols, 0.f);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t j = 0; j < cols; ++j) mean_abs[j] += std::abs(x[t * cols + j]) / n;
  calib::ActivationModel act = calib::ActivationModel::FromSamples(x, n, cols).value();
  const QuantSpec spec{pb::ENCODING_Q4_SYM, 128, 0};
  for (auto _ : state) {
    auto s = calib::AwqSearchScale(w.data(), rows, cols, act, mean_abs, spec, {}).value();
    auto r = calib::AwqSearchClip(w.data(), rows, cols, act.Scaled(s.scale), spec, {});
    benchmark::DoNotOptimize(r);
  }
  state.counters["peak_rss_MiB"] = PeakRssMiB();
}
BENCHMARK(BM_AwqLinear)->Args({1152, 1024, 128})->Args({1152, 1024, 256})
    ->Args({1152, 1024, 512})->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace
}  // namespace glmq

BENCHMARK_MAIN();
