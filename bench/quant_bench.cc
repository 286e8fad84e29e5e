// Quantization benchmarks (not tests): QuantizeMatrix throughput in GB/s of
// bf16 input on a GLM-4-9B ffn_down-sized [4096, 13696] matrix, and
// QuantMatMul GEMV / prefill throughput in GB/s of weight bytes read, next
// to a plain memory-read bandwidth figure, and the prefill GEMM in GOP/s on
// GLM-4-9B's layer shapes.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <vector>

#include "core/cpu_features.h"
#include "schema/encodings.h"
#include "quant/quantize.h"
#include "runtime/cpu/qmatmul.h"

namespace glmq {
namespace {

constexpr int64_t kRows = 4096, kCols = 13696;

const std::vector<float>& Weights() {
  static const std::vector<float> w = [] {
    std::vector<float> v(kRows * kCols);
    std::mt19937 rng(1);
    std::normal_distribution<float> d(0.f, 0.02f);
    for (auto& x : v) x = d(rng);
    return v;
  }();
  return w;
}

void BM_Quantize(benchmark::State& state) {
  const QuantSpec spec{static_cast<pb::Encoding>(state.range(0)), static_cast<int>(state.range(1)),
                       static_cast<int>(state.range(2))};
  std::vector<uint8_t> out(*QuantizedBytes(spec, kRows, kCols));
  (void)Weights();  // generated outside the timed loop
  double nmse = 0;
  for (auto _ : state)
    nmse = *QuantizeMatrix(Weights().data(), kRows, kCols, spec, nullptr, out.data(), nullptr);
  state.SetBytesProcessed(state.iterations() * kRows * kCols * 2);  // as bf16 input
  state.counters["nmse"] = nmse;
}
BENCHMARK(BM_Quantize)
    ->Args({pb::ENCODING_Q8_SYM, 32, 8})
    ->Args({pb::ENCODING_Q4_SYM, 128, 8})
    ->Args({pb::ENCODING_Q4_SYM, 128, 0})
    ->Args({pb::ENCODING_Q4_ASYM, 128, 8})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_QuantMatMul(benchmark::State& state) {
  const QuantSpec spec{static_cast<pb::Encoding>(state.range(0)), static_cast<int>(state.range(1)),
                       0};
  const int64_t n_tokens = state.range(2);
  const SimdLevel level = static_cast<SimdLevel>(state.range(3));
  static std::vector<uint8_t> q;
  q.resize(*QuantizedBytes(spec, kRows, kCols));
  (void)QuantizeMatrix(Weights().data(), kRows, kCols, spec, nullptr, q.data(), nullptr);
  const WeightView w =
      *MakeWeightView("w", spec.encoding, spec.group_size, {kRows, kCols}, q.data(), q.size());
  std::vector<float> x(n_tokens * kCols, 0.5f), y(n_tokens * kRows);
  SimdLevel ran = level;
  for (auto _ : state) ran = *QuantMatMulAtLevel(level, w, x.data(), n_tokens, y.data());
  state.SetLabel(SimdLevelName(ran));
  state.SetBytesProcessed(state.iterations() * q.size());
}
void MatMulArgs(benchmark::internal::Benchmark* b) {
  for (int64_t e : {pb::ENCODING_Q8_SYM, pb::ENCODING_Q4_SYM, pb::ENCODING_Q4_ASYM})
    for (int64_t lvl : {0, 1, 2}) b->Args({e, e == pb::ENCODING_Q8_SYM ? 32 : 128, 1, lvl});
  b->Args({pb::ENCODING_Q4_SYM, 128, 16, 2});
}
BENCHMARK(BM_QuantMatMul)->Apply(MatMulArgs)->Unit(benchmark::kMicrosecond)->UseRealTime();

// Decode as the model sees it: the GEMV cycles through copies of the
// matrix totalling ~1 GB, far beyond the last-level cache (260 MiB on the
// dev box, where one [4096, 13696] matrix would stay cache-resident and
// BM_QuantMatMul measures compute, not memory).
void BM_QuantGemvDram(benchmark::State& state) {
  const QuantSpec spec{static_cast<pb::Encoding>(state.range(0)), static_cast<int>(state.range(1)),
                       0};
  const uint64_t bytes = *QuantizedBytes(spec, kRows, kCols);
  std::vector<uint8_t> q(bytes);
  (void)QuantizeMatrix(Weights().data(), kRows, kCols, spec, nullptr, q.data(), nullptr);
  const int64_t copies = std::max<int64_t>(2, (int64_t{1} << 30) / bytes);
  std::vector<std::vector<uint8_t>> mats(copies, q);
  std::vector<WeightView> views;
  for (const auto& m : mats)
    views.push_back(
        *MakeWeightView("w", spec.encoding, spec.group_size, {kRows, kCols}, m.data(), bytes));
  std::vector<float> x(kCols, 0.5f), y(kRows);
  int64_t i = 0;
  for (auto _ : state) {
    (void)QuantMatMul(views[i], x.data(), 1, y.data());
    i = (i + 1) % copies;
  }
  state.SetBytesProcessed(state.iterations() * bytes);
}
BENCHMARK(BM_QuantGemvDram)
    ->Args({pb::ENCODING_Q8_SYM, 32})
    ->Args({pb::ENCODING_Q4_SYM, 128})
    ->Args({pb::ENCODING_Q4_ASYM, 128})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

// The GEMVs of GLM-4-9B decode steps in their order, with the barrier after
// each: per layer attn_qkv [4608, 4096], attn_output [4096, 4096],
// ffn_gate_up [27392, 4096], ffn_down [4096, 13696], for as many layers as
// fill ~1 GB (so every step reads from DRAM). Random codes with a valid f16
// scale (the kernels' speed does not depend on the values). Compare with
// BM_QuantGemvDram (one shape, no layer mix) and BM_MemoryRead.
void BM_QuantDecodeLayers(benchmark::State& state) {
  const auto enc = static_cast<pb::Encoding>(state.range(0));
  const int group = static_cast<int>(state.range(1));
  const int64_t shapes[4][2] = {{4608, 4096}, {4096, 4096}, {27392, 4096}, {4096, 13696}};
  struct Mat {
    std::vector<uint8_t> bytes;
    int64_t rows, cols;
    WeightView view;
  };
  std::vector<Mat> mats;
  uint64_t layer_bytes = 0;
  for (const auto& s : shapes) layer_bytes += *QuantizedBytes({enc, group, 0}, s[0], s[1]);
  const int64_t layers = std::max<int64_t>(2, (int64_t{1} << 30) / layer_bytes);
  std::mt19937 rng(7);
  for (int64_t l = 0; l < layers; ++l) {
    for (const auto& s : shapes) {
      const GroupGeometry geo = *GetGroupGeometry(enc, group, s[1]);
      Mat m{std::vector<uint8_t>(s[0] * geo.row_bytes), s[0], s[1], {}};
      for (auto& b : m.bytes) b = static_cast<uint8_t>(rng());
      for (int64_t gi = 0; gi < s[0] * geo.n_groups; ++gi) {  // f16 scale 2^-6 (and min)
        uint8_t* h = m.bytes.data() + gi * geo.group_bytes;
        for (int64_t k = 0; k < geo.traits->group_header_bytes; k += 2) h[k] = 0, h[k + 1] = 0x24;
      }
      m.view = *MakeWeightView("w", enc, group, {m.rows, m.cols}, m.bytes.data(), m.bytes.size());
      mats.push_back(std::move(m));  // the heap buffer (and the view into it) stays put
    }
  }
  std::vector<float> x(13696, 0.5f), y(27392);
  int64_t i = 0;
  uint64_t bytes = 0;
  double sec[4] = {}, by[4] = {};
  for (auto _ : state) {
    const Mat& m = mats[i];
    const auto t0 = std::chrono::steady_clock::now();
    (void)QuantMatMul(m.view, x.data(), 1, y.data());
    sec[i % 4] += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    by[i % 4] += m.bytes.size();
    bytes += m.bytes.size();
    i = (i + 1) % static_cast<int64_t>(mats.size());
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  const char* names[4] = {"qkv", "o", "gate_up", "down"};
  for (int k = 0; k < 4; ++k) state.counters[names[k]] = by[k] / sec[k] / 1e9;
}
BENCHMARK(BM_QuantDecodeLayers)
    ->Args({pb::ENCODING_Q8_SYM, 32})
    ->Args({pb::ENCODING_Q4_SYM, 128})
    ->Unit(benchmark::kMicrosecond)
    ->MinTime(2.0)
    ->UseRealTime();

// The prefill GEMM (QuantMatMul of n tokens) on the four matrices of a
// GLM-4-9B layer, random codes with a valid f16 scale, normal activations:
// per shape GOP/s = 2 rows cols tokens / s (counters qkv, o, gate_up, down;
// "all" over the layer). Args: encoding, group, tokens, SIMD level.
void BM_QuantGemm(benchmark::State& state) {
  const auto enc = static_cast<pb::Encoding>(state.range(0));
  const int group = static_cast<int>(state.range(1));
  const int64_t n_tokens = state.range(2);
  const auto level = static_cast<SimdLevel>(state.range(3));
  const int64_t shapes[4][2] = {{4608, 4096}, {4096, 4096}, {27392, 4096}, {4096, 13696}};
  std::mt19937 rng(7);
  std::vector<std::vector<uint8_t>> bytes;
  std::vector<WeightView> views;
  for (const auto& s : shapes) {
    const GroupGeometry geo = *GetGroupGeometry(enc, group, s[1]);
    std::vector<uint8_t> b(s[0] * geo.row_bytes);
    for (auto& v : b) v = static_cast<uint8_t>(rng());
    for (int64_t gi = 0; gi < s[0] * geo.n_groups; ++gi) {  // f16 scale 2^-6 (and min)
      uint8_t* h = b.data() + gi * geo.group_bytes;
      for (int64_t k = 0; k < geo.traits->group_header_bytes; k += 2) h[k] = 0, h[k + 1] = 0x24;
    }
    bytes.push_back(std::move(b));
    views.push_back(*MakeWeightView("w", enc, group, {s[0], s[1]}, bytes.back().data(),
                                    bytes.back().size()));
  }
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> x(n_tokens * 13696), y(n_tokens * 27392);
  for (auto& v : x) v = nd(rng);
  double sec[4] = {};
  SimdLevel ran = level;
  for (auto _ : state) {
    for (int k = 0; k < 4; ++k) {
      const auto t0 = std::chrono::steady_clock::now();
      ran = *QuantMatMulAtLevel(level, views[k], x.data(), n_tokens, y.data());
      sec[k] += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
  }
  const char* names[4] = {"qkv", "o", "gate_up", "down"};
  double ops = 0, all = 0;
  for (int k = 0; k < 4; ++k) {
    const double op = 2.0 * shapes[k][0] * shapes[k][1] * n_tokens * state.iterations();
    state.counters[names[k]] = op / sec[k] / 1e9;
    ops += op;
    all += sec[k];
  }
  state.counters["all"] = ops / all / 1e9;
  state.SetLabel(SimdLevelName(ran) + " GOP/s");
}
BENCHMARK(BM_QuantGemm)
    ->Args({pb::ENCODING_Q8_SYM, 32, 512, 2})
    ->Args({pb::ENCODING_Q4_SYM, 128, 512, 2})
    ->Args({pb::ENCODING_Q4_SYM, 32, 512, 2})
    ->Args({pb::ENCODING_Q4_ASYM, 128, 512, 2})
    ->Args({pb::ENCODING_Q4_SYM, 128, 128, 2})
    ->Args({pb::ENCODING_Q4_SYM, 128, 16, 2})
    ->Args({pb::ENCODING_Q8_SYM, 32, 512, 1})
    ->Args({pb::ENCODING_Q4_SYM, 128, 512, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_MemoryRead(benchmark::State& state) {
  std::vector<int64_t> buf(int64_t{1} << 25, 1);  // 256 MiB
  for (auto _ : state) {
    int64_t s = 0;
#pragma omp parallel for reduction(+ : s)
    for (int64_t i = 0; i < static_cast<int64_t>(buf.size()); ++i) s += buf[i];
    benchmark::DoNotOptimize(s);
  }
  state.SetBytesProcessed(state.iterations() * buf.size() * 8);
}
BENCHMARK(BM_MemoryRead)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace glmq

BENCHMARK_MAIN();
