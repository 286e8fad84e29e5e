// Runtime speed (never a test): STREAM-like triad bandwidth, dense matmul
// GEMV/GEMM, and prefill / decode tokens per second on
//   - the trained fixture glm4-tiny-chat (converted in memory-mapped .glmq),
//   - a synthetic full-width GLM-4-9B in bf16 (hidden 4096, ffn 13696, 32/2
//     heads of 128, vocab 151552) with GLMQ_BENCH_LAYERS layers (default 2,
//     the real model has 40: per-layer time scales linearly, see counters).
//   GLMQ_BENCH_MODEL=path.glmq replaces that in-memory model with a real
//   file, memory-mapped (e.g. the whole 40-layer bf16 conversion of the
//   synthetic checkpoint, /work/synth/glm-4-9b-chat.glmq, 18.8 GB).
// Counters: tok/s, weight bytes read per decoded token, GB/s that implies.
// Threads: GLMQ_BENCH_THREADS (default 2).
// Bandwidth: BM_Triad (STREAM triad) and BM_ReadBandwidth (read-only, the
// access pattern of decode); BM_Gemv/<level> one 9B-width bf16 GEMV
// ([27392, 4096], ffn_gate_up) per SIMD level (0 scalar, 1 avx2, 2 avx512);
// BM_DenseGemm/<tokens>/<level> the bf16 prefill GEMM on a 9B layer's shapes;
// BM_Peak/<0 fma, 1 vnni> the CPU's peak vector arithmetic (for "% of peak").
#include <omp.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <vector>

#include "benchmark/benchmark.h"
#include "pipeline/convert.h"
#include "runtime/cpu/cpu_backend.h"
#include "runtime/cpu/kernels.h"
#include "runtime/model.h"
#include "runtime/session.h"
#include "schema/tensors.h"

namespace glmq {
namespace {

int Threads() {
  const char* e = std::getenv("GLMQ_BENCH_THREADS");
  return e ? std::atoi(e) : 2;
}

void BM_Triad(benchmark::State& state) {
  const int64_t n = 32 << 20;  // 3 arrays x 128 MiB: far beyond any cache
  std::vector<float> a(n), b(n, 1.f), c(n, 2.f);
  const int t = Threads();
  for (auto _ : state) {
#pragma omp parallel for num_threads(t) schedule(static)
    for (int64_t i = 0; i < n; ++i) a[i] = b[i] + 3.f * c[i];
    benchmark::ClobberMemory();
  }
  // STREAM counts 3 arrays (2 read, 1 written).
  state.counters["GB/s"] = benchmark::Counter(3.0 * n * 4 * state.iterations() / 1e9,
                                              benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Triad)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);

void BM_ReadBandwidth(benchmark::State& state) {
  const int64_t n = 64 << 20;  // 2 arrays x 256 MiB, read only
  std::vector<float> a(n, 1.f), b(n, 2.f);
  const int t = Threads();
  const cpu::DenseKernels& k = cpu::ActiveDenseKernels();
  float sink = 0;
  for (auto _ : state) {
#pragma omp parallel num_threads(t) reduction(+ : sink)
    {
      const int64_t nt = omp_get_num_threads(), id = omp_get_thread_num();
      const int64_t b0 = n * id / nt, b1 = n * (id + 1) / nt;
      sink += k.dot(a.data() + b0, b.data() + b0, b1 - b0);
    }
  }
  benchmark::DoNotOptimize(sink);
  state.counters["GB/s"] = benchmark::Counter(2.0 * n * 4 * state.iterations() / 1e9,
                                              benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ReadBandwidth)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);

// Random bf16 weights ~U(-a, a), without a full f32 copy.
std::string RandomBf16(int64_t n, float a, uint64_t seed) {
  std::string out(n * 2, '\0');
  auto* p = reinterpret_cast<uint16_t*>(out.data());
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (int64_t i = 0; i < n; ++i) {
    s ^= s << 13; s ^= s >> 7; s ^= s << 17;
    p[i] = F32ToBf16(a * (static_cast<float>(s >> 40) / 8388608.f - 1.f));
  }
  return out;
}

// One decode-shaped bf16 GEMV, [27392, 4096] (224 MB, far beyond cache),
// through the CPU backend with the kernels of SIMD level state.range(0).
void BM_Gemv(benchmark::State& state) {
  const auto level = static_cast<SimdLevel>(state.range(0));
  const cpu::DenseKernels& k = cpu::GetDenseKernels(level);
  if (k.level != level) return state.SkipWithError("SIMD level not available on this CPU");
  const int64_t rows = 2 * 13696, cols = 4096;
  const std::string w = RandomBf16(rows * cols, 0.02f, 7);
  std::vector<float> x(cols, 0.5f), y(rows);
  CpuBackend backend(Threads(), &k);
  const WeightView v = *MakeWeightView("w", pb::ENCODING_BF16, 0, {rows, cols}, w.data(), w.size());
  for (auto _ : state) {
    if (!backend.MatMul(v, x.data(), 1, y.data()).ok()) return state.SkipWithError("matmul");
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GB/s"] = benchmark::Counter(double(w.size()) * state.iterations() / 1e9,
                                              benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Gemv)->DenseRange(0, 2)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);

// The dense prefill GEMM (MatMul of n tokens, quant/gemm.h) on the four bf16
// matrices of a GLM-4-9B layer through the CPU backend (its threads):
// GFLOP/s = 2 rows cols tokens / s per shape (counters qkv, o, gate_up,
// down; "all" over the layer). Args: tokens, SIMD level.
void BM_DenseGemm(benchmark::State& state) {
  const int64_t n_tokens = state.range(0);
  const auto level = static_cast<SimdLevel>(state.range(1));
  const cpu::DenseKernels& k = cpu::GetDenseKernels(level);
  if (k.level != level) return state.SkipWithError("SIMD level not available on this CPU");
  const int64_t shapes[4][2] = {{4608, 4096}, {4096, 4096}, {27392, 4096}, {4096, 13696}};
  std::vector<std::string> w;
  std::vector<WeightView> views;
  for (int i = 0; i < 4; ++i) w.push_back(RandomBf16(shapes[i][0] * shapes[i][1], 0.02f, 11 + i));
  for (int i = 0; i < 4; ++i)
    views.push_back(*MakeWeightView("w", pb::ENCODING_BF16, 0, {shapes[i][0], shapes[i][1]},
                                    w[i].data(), w[i].size()));
  std::vector<float> x(n_tokens * 13696, 0.25f), y(n_tokens * 27392);
  CpuBackend backend(Threads(), &k);
  double sec[4] = {};
  for (auto _ : state) {
    for (int i = 0; i < 4; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      if (!backend.MatMul(views[i], x.data(), n_tokens, y.data()).ok())
        return state.SkipWithError("matmul");
      sec[i] += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
  }
  const char* names[4] = {"qkv", "o", "gate_up", "down"};
  double flop = 0, all = 0;
  for (int i = 0; i < 4; ++i) {
    const double f = 2.0 * shapes[i][0] * shapes[i][1] * n_tokens * state.iterations();
    state.counters[names[i]] = f / sec[i] / 1e9;
    flop += f;
    all += sec[i];
  }
  state.counters["all"] = flop / all / 1e9;
  state.SetLabel(SimdLevelName(level) + " GFLOP/s");
}
BENCHMARK(BM_DenseGemm)
    ->Args({512, 2})
    ->Args({128, 2})
    ->Args({16, 2})
    ->Args({512, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The CPU's peak arithmetic, for the GEMMs' "share of peak": 12 independent
// 512-bit vfmadd231ps (32 flop each) or vpdpbusd (64 int8 multiply-adds =
// 128 op each) per loop, no memory operands, on every thread at once.
// Counter: G op/s over all threads. Arg: 0 FMA, 1 VNNI. AVX-512 only.
void BM_Peak(benchmark::State& state) {
  const CpuFeatures& f = GetCpuFeatures();
  const bool vnni = state.range(0) == 1;
  if (!f.avx512 || (vnni && !f.avx512_vnni)) return state.SkipWithError("needs AVX-512 (VNNI)");
  constexpr int64_t kLoops = 20000000;
#define GLMQ_Z(r) "vpxord %%zmm" #r ", %%zmm" #r ", %%zmm" #r "\n"
#define GLMQ_ZERO GLMQ_Z(0) GLMQ_Z(1) GLMQ_Z(2) GLMQ_Z(3) GLMQ_Z(4) GLMQ_Z(5) GLMQ_Z(6) \
    GLMQ_Z(7) GLMQ_Z(8) GLMQ_Z(9) GLMQ_Z(10) GLMQ_Z(11) GLMQ_Z(12) GLMQ_Z(13)
#define GLMQ_12(op) op(0) op(1) op(2) op(3) op(4) op(5) op(6) op(7) op(8) op(9) op(10) op(11)
#define GLMQ_DP(r) "vpdpbusd %%zmm12, %%zmm13, %%zmm" #r "\n"
#define GLMQ_FMA(r) "vfmadd231ps %%zmm12, %%zmm13, %%zmm" #r "\n"
#define GLMQ_CLOBBERS "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", \
    "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "cc"
  for (auto _ : state) {
#pragma omp parallel num_threads(Threads())
    {
      int64_t n = kLoops;  // registers zeroed first: no denormal operands
      if (vnni) {
        __asm__ volatile(GLMQ_ZERO "1:\n" GLMQ_12(GLMQ_DP) "dec %0\n jnz 1b\n vzeroupper\n"
                         : "+r"(n) : : GLMQ_CLOBBERS);
      } else {
        __asm__ volatile(GLMQ_ZERO "1:\n" GLMQ_12(GLMQ_FMA) "dec %0\n jnz 1b\n vzeroupper\n"
                         : "+r"(n) : : GLMQ_CLOBBERS);
      }
    }
  }
#undef GLMQ_Z
#undef GLMQ_ZERO
#undef GLMQ_12
#undef GLMQ_DP
#undef GLMQ_FMA
#undef GLMQ_CLOBBERS
  const double ops_per_instr = vnni ? 128.0 : 32.0;
  state.counters["Gop/s"] = benchmark::Counter(
      12.0 * kLoops * Threads() * ops_per_instr * state.iterations() / 1e9,
      benchmark::Counter::kIsRate);
  state.SetLabel(vnni ? "vpdpbusd zmm (int8 op)" : "vfmadd231ps zmm (flop)");
}
BENCHMARK(BM_Peak)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

std::unique_ptr<Model> SyntheticGlm4_9b(int layers) {
  pb::HParams hp;
  hp.set_layout(pb::LAYOUT_CHATGLM);
  hp.set_max_context(131072);
  hp.set_n_layers(layers);
  hp.set_hidden_size(4096);
  hp.set_n_heads(32);
  hp.set_n_kv_heads(2);
  hp.set_head_dim(128);
  hp.set_ffn_hidden_size(13696);
  hp.set_padded_vocab_size(151552);
  hp.set_rope_base(10000.0 * 500);
  hp.set_rope_dims(64);
  hp.set_rope_interleaved(true);
  hp.set_norm_eps(1.5625e-07);
  hp.set_norms_per_layer(2);
  hp.set_qkv_bias(true);
  auto w = std::make_unique<InMemoryWeightSource>(hp);
  // Every tensor of the table: matrices random bf16, vectors 1 (the speed
  // does not depend on the values).
  uint64_t seed = 1;
  const absl::StatusOr<std::vector<ModelTensor>> tensors = ModelTensors(hp, TensorSet::kText);
  if (!tensors.ok()) return nullptr;
  for (const ModelTensor& t : *tensors) {
    if (t.shape.size() == 2) {
      w->AddEncoded(t.name, pb::ENCODING_BF16, 0, t.shape,
                    RandomBf16(t.shape[0] * t.shape[1], 0.02f, seed++));
    } else {
      w->AddF32(t.name, t.shape, std::vector<float>(t.shape[0], 1.f));
    }
  }
  auto m = Model::Load(std::move(w), std::make_unique<CpuBackend>(Threads()));
  return m.ok() ? std::move(*m) : nullptr;
}

std::unique_ptr<Model> Fixture() {
  const std::string path = std::string(std::filesystem::temp_directory_path()) + "/glmq_bench_fixture.glmq";
  ConvertOptions o;
  o.hash_sources = false;
  if (!ConvertHfToGlmq(std::string(GLMQ_SHARED_DIR) + "/fixtures/models/glm4-tiny-chat", path, o).ok()) return nullptr;
  auto src = GlmqWeightSource::Open(path);
  std::filesystem::remove(path);
  if (!src.ok()) return nullptr;
  auto m = Model::Load(std::move(*src), std::make_unique<CpuBackend>(Threads()));
  return m.ok() ? std::move(*m) : nullptr;
}

Model* Get(bool full) {
  static std::unique_ptr<Model> fixture, synth;
  if (full) {
    if (!synth) {
      if (const char* path = std::getenv("GLMQ_BENCH_MODEL")) {
        auto src = GlmqWeightSource::Open(path);
        if (!src.ok()) return nullptr;
        auto m = Model::Load(std::move(*src), std::make_unique<CpuBackend>(Threads()));
        if (m.ok()) synth = std::move(*m);
      } else {
        const char* e = std::getenv("GLMQ_BENCH_LAYERS");
        synth = SyntheticGlm4_9b(e ? std::atoi(e) : 2);
      }
    }
    return synth.get();
  }
  if (!fixture) fixture = Fixture();
  return fixture.get();
}

void BM_Prefill(benchmark::State& state) {
  Model* m = Get(state.range(0));
  if (!m) return state.SkipWithError("model not available");
  const int64_t n = state.range(1);
  SessionOptions so;
  so.max_context = n;
  so.prefill_chunk = n;
  so.all_logits = false;
  auto s = Session::Create(m, so);
  std::vector<int32_t> ids(n);
  for (int64_t i = 0; i < n; ++i) ids[i] = static_cast<int32_t>((i * 7919) % 4000);
  std::vector<float> logits;
  for (auto _ : state) {
    (*s)->Reset();
    if (!(*s)->Forward(ids, ForwardOutput::kLastLogits, &logits).ok()) return state.SkipWithError("forward");
  }
  state.counters["tok/s"] = benchmark::Counter(double(n) * state.iterations(), benchmark::Counter::kIsRate);
  state.counters["layers"] = m->hparams().n_layers();
}

void BM_Decode(benchmark::State& state) {
  Model* m = Get(state.range(0));
  if (!m) return state.SkipWithError("model not available");
  SessionOptions so;
  so.max_context = 4096;
  so.prefill_chunk = 64;
  so.all_logits = false;
  auto s = Session::Create(m, so);
  std::vector<float> logits;
  std::vector<int32_t> prompt(state.range(1), 17);
  (void)(*s)->Forward(prompt, ForwardOutput::kNone, nullptr);
  int32_t tok[1] = {42};
  for (auto _ : state) {
    if ((*s)->position() >= so.max_context) { state.PauseTiming(); (*s)->Reset(); state.ResumeTiming(); }
    if (!(*s)->Forward(tok, ForwardOutput::kLastLogits, &logits).ok()) return state.SkipWithError("forward");
  }
  const double bytes = static_cast<double>(m->WeightBytesPerToken());
  state.counters["tok/s"] = benchmark::Counter(state.iterations(), benchmark::Counter::kIsRate);
  state.counters["weight_MB/tok"] = bytes / 1e6;
  state.counters["weight_GB/s"] = benchmark::Counter(bytes * state.iterations() / 1e9, benchmark::Counter::kIsRate);
  state.counters["layers"] = m->hparams().n_layers();
}

// Args: {full-size?, tokens (prefill) / prompt length (decode)}.
BENCHMARK(BM_Prefill)->Args({0, 256})->Args({1, 64})->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);
BENCHMARK(BM_Decode)->Args({0, 16})->Args({1, 16})->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(3.0);

}  // namespace
}  // namespace glmq

BENCHMARK_MAIN();
