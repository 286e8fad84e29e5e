// The attention over the block KV cache alone (runtime/cpu/kv_attention.h;
// not a test): BM_KvDecode/<kv>/<context> is one decode step of
// glm-4-9b-chat-1m's shape (32 heads, 4 kv heads of 128) over one layer's
// cache of `context` positions, on one thread at the active SIMD level, with
// the KV bytes it reads per second of CPU (the rate a core sustains; decode
// needs about the memory bandwidth / cores). BM_KvPrefill/<kv>/<context>: a
// chunk of 256 queries at the end of such a cache (multiply-adds per second).
// BM_KvDecodeCold/<kv>/<context>/<threads>: the decode step as a model runs
// it, on `threads` threads and cycling over as many layers' caches as make
// 2 GiB, so every step reads its KV from memory (BM_KvDecode's one layer
// stays in this machine's 480 MiB L3); bytes per second of wall time.
// kv: 0 f32, 1 f16, 2 bf16, 3 int8.
#include <random>
#include <vector>

#include "benchmark/benchmark.h"
#include "runtime/attention_tiling.h"
#include "runtime/cpu/kv_attention.h"

namespace glmq::cpu {
namespace {

constexpr AttentionShape kShape{32, 4, 128};

struct Cache {
  KvLayout layout;
  std::vector<std::vector<uint8_t>> storage;
  std::vector<void*> blocks;
  KvCacheView View() const { return {&layout, blocks.data(), (int64_t)blocks.size(), 0}; }
};

Cache MakeCache(KvType type, int64_t positions) {
  Cache c;
  c.layout = KvLayout{type, 1, kShape.n_kv_heads, kShape.head_dim};
  for (int64_t b = 0; b < c.layout.BlocksFor(positions); ++b) {
    c.storage.emplace_back(c.layout.BlockBytes(), 0);
    c.blocks.push_back(c.storage.back().data());
  }
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  const int64_t kv = kShape.n_kv_heads * kShape.head_dim;
  std::vector<float> rows(256 * 2 * kv);
  for (int64_t p = 0; p < positions; p += 256) {
    for (float& x : rows) x = u(rng);
    WriteKvRows(rows.data(), rows.data() + kv, 2 * kv, std::min<int64_t>(256, positions - p),
                kShape, p, c.View());
  }
  return c;
}

void Run(benchmark::State& state, int64_t n_tokens) {
  const KvType type = static_cast<KvType>(state.range(0));
  const int64_t ctx = state.range(1);
  const Cache cache = MakeCache(type, ctx);
  const int64_t width = kShape.n_heads * kShape.head_dim;
  std::vector<float> q(n_tokens * width, 0.1f), out(n_tokens * width);
  std::vector<float> scratch(AttentionScratchFloats({32, 4, 128}, 1));
  const KvAttentionFn fn = GetKvAttention(ActiveSimdLevel(), kShape.head_dim);
  for (auto _ : state) {
    fn(q.data(), width, n_tokens, kShape, ctx - n_tokens, cache.View(), scratch.data(), out.data(),
       1);
    benchmark::ClobberMemory();
  }
  const double bytes = static_cast<double>(cache.layout.BytesPerToken()) * ctx;
  state.SetBytesProcessed(static_cast<int64_t>(bytes * state.iterations()));
  state.counters["MAC/s"] = benchmark::Counter(2.0 * kShape.n_heads * kShape.head_dim * n_tokens *
                                                   (ctx - n_tokens / 2.0) * state.iterations(),
                                               benchmark::Counter::kIsRate);
  state.SetLabel(std::string(Traits(type).name));
}

void BM_KvDecode(benchmark::State& state) { Run(state, 1); }

void BM_KvDecodeCold(benchmark::State& state) {
  const KvType type = static_cast<KvType>(state.range(0));
  const int64_t ctx = state.range(1);
  const int threads = static_cast<int>(state.range(2));
  std::vector<Cache> layers;
  layers.push_back(MakeCache(type, ctx));
  const auto layer_bytes = static_cast<int64_t>(layers[0].layout.BytesFor(ctx));
  while (static_cast<int64_t>(layers.size()) * layer_bytes < (int64_t{2} << 30)) {
    layers.push_back(layers[0]);
    for (size_t b = 0; b < layers.back().blocks.size(); ++b)
      layers.back().blocks[b] = layers.back().storage[b].data();
  }
  const int64_t width = kShape.n_heads * kShape.head_dim;
  std::vector<float> q(width, 0.1f), out(width);
  std::vector<float> scratch(AttentionScratchFloats({32, 4, 128}, threads));
  const KvAttentionFn fn = GetKvAttention(ActiveSimdLevel(), kShape.head_dim);
  size_t l = 0;
  for (auto _ : state) {
    fn(q.data(), width, 1, kShape, ctx - 1, layers[l].View(), scratch.data(), out.data(), threads);
    l = (l + 1) % layers.size();
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(layer_bytes * state.iterations()));
  state.SetLabel(std::string(Traits(type).name) + " x" + std::to_string(layers.size()));
}
void BM_KvPrefill(benchmark::State& state) { Run(state, 256); }

BENCHMARK(BM_KvDecode)->ArgsProduct({{0, 2, 3}, {8192, 32768}})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_KvDecodeCold)
    ->ArgsProduct({{2, 3}, {32768}, {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_KvPrefill)->ArgsProduct({{0, 2, 3}, {4096}})->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace glmq::cpu

BENCHMARK_MAIN();
