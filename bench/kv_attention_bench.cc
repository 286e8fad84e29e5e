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
// BM_KvReadCold/<kv>/<context>/<threads>: the same bytes read with no
// arithmetic (each thread its kv heads' K and V, block by block): a floor
// for BM_KvDecodeCold on this machine.
// Blocks come from CpuBackend::AllocateKvBlock, as in a session.
// kv: 0 f32, 1 f16, 2 bf16, 3 int8.
#include <emmintrin.h>
#include <omp.h>

#include <cstring>
#include <random>
#include <vector>

#include "benchmark/benchmark.h"
#include "runtime/attention_tiling.h"
#include "runtime/cpu/cpu_backend.h"
#include "runtime/cpu/kv_attention.h"

namespace glmq::cpu {
namespace {

constexpr AttentionShape kShape{32, 4, 128};

CpuBackend& Allocator() {
  static CpuBackend backend(1);
  return backend;
}

// One layer's cache of glm-4-9b-chat-1m's shape.
struct Cache {
  KvLayout layout;
  std::vector<void*> blocks;
  Cache(KvType type, int64_t positions) : layout{type, 1, kShape.n_kv_heads, kShape.head_dim} {
    for (int64_t b = 0; b < layout.BlocksFor(positions); ++b)
      blocks.push_back(Allocator().AllocateKvBlock(layout.BlockBytes()).value());
  }
  Cache(const Cache& other) : Cache(other.layout.type, 0) {
    for (void* b : other.blocks) {
      blocks.push_back(Allocator().AllocateKvBlock(layout.BlockBytes()).value());
      std::memcpy(blocks.back(), b, layout.BlockBytes());
    }
  }
  Cache(Cache&& other) noexcept : layout(other.layout), blocks(std::move(other.blocks)) {
    other.blocks.clear();
  }
  ~Cache() {
    for (void* b : blocks) Allocator().FreeKvBlock(b, layout.BlockBytes());
  }
  KvCacheView View() const { return {&layout, blocks.data(), (int64_t)blocks.size(), 0}; }
};

Cache MakeCache(KvType type, int64_t positions) {
  Cache c(type, positions);
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

// Copies of one layer's cache making 2 GiB.
std::vector<Cache> ColdLayers(KvType type, int64_t ctx) {
  std::vector<Cache> layers;
  layers.push_back(MakeCache(type, ctx));
  const auto layer_bytes = static_cast<int64_t>(layers[0].layout.BytesFor(ctx));
  while (static_cast<int64_t>(layers.size()) * layer_bytes < (int64_t{2} << 30))
    layers.push_back(layers[0]);
  return layers;
}

void BM_KvDecodeCold(benchmark::State& state) {
  const KvType type = static_cast<KvType>(state.range(0));
  const int64_t ctx = state.range(1);
  const int threads = static_cast<int>(state.range(2));
  const std::vector<Cache> layers = ColdLayers(type, ctx);
  const auto layer_bytes = static_cast<int64_t>(layers[0].layout.BytesFor(ctx));
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

// XOR of [p, p + bytes) (a multiple of 64), 16 bytes per load, asking for
// the line 2 KiB on (the fastest distance here of 0, 512 B, 1, 2, 4, 8 and
// 32 KiB).
uint64_t ReadAll(const void* p, uint64_t bytes) {
  constexpr uint64_t kAhead = 2048;
  const char* c = static_cast<const char*>(p);
  __m128i x0 = _mm_setzero_si128(), x1 = x0, x2 = x0, x3 = x0;
  for (uint64_t i = 0; i < bytes; i += 64) {
    __builtin_prefetch(c + i + kAhead, 0, 3);
    x0 = _mm_xor_si128(x0, _mm_loadu_si128(reinterpret_cast<const __m128i*>(c + i)));
    x1 = _mm_xor_si128(x1, _mm_loadu_si128(reinterpret_cast<const __m128i*>(c + i + 16)));
    x2 = _mm_xor_si128(x2, _mm_loadu_si128(reinterpret_cast<const __m128i*>(c + i + 32)));
    x3 = _mm_xor_si128(x3, _mm_loadu_si128(reinterpret_cast<const __m128i*>(c + i + 48)));
  }
  const __m128i x = _mm_xor_si128(_mm_xor_si128(x0, x1), _mm_xor_si128(x2, x3));
  return static_cast<uint64_t>(_mm_cvtsi128_si64(x)) ^
         static_cast<uint64_t>(_mm_cvtsi128_si64(_mm_srli_si128(x, 8)));
}

void BM_KvReadCold(benchmark::State& state) {
  const KvType type = static_cast<KvType>(state.range(0));
  const int threads = static_cast<int>(state.range(2));
  const std::vector<Cache> layers = ColdLayers(type, state.range(1));
  const KvLayout& l = layers[0].layout;
  const uint64_t values = l.block_tokens * l.head_dim * l.value_bytes();
  const uint64_t scales = l.scaled() ? l.block_tokens * 2 : 0;
  size_t i = 0;
  uint64_t sink = 0;
  for (auto _ : state) {
    const Cache& c = layers[i];
    i = (i + 1) % layers.size();
#pragma omp parallel for num_threads(threads) schedule(static) reduction(^ : sink)
    for (int64_t g = 0; g < l.n_kv_heads; ++g) {
      for (void* block : c.blocks) {
        const uint8_t* b = static_cast<const uint8_t*>(block);
        for (int kind = 0; kind < 2; ++kind) {
          sink ^= ReadAll(b + l.ValuesOffset(0, kind, g), values);
          if (scales) sink ^= ReadAll(b + l.ScalesOffset(0, kind, g), scales);
        }
      }
    }
  }
  benchmark::DoNotOptimize(sink);
  state.SetBytesProcessed(static_cast<int64_t>(l.BytesFor(state.range(1)) * state.iterations()));
  state.SetLabel(std::string(Traits(type).name) + " x" + std::to_string(layers.size()));
}

BENCHMARK(BM_KvDecode)->ArgsProduct({{0, 2, 3}, {8192, 32768}})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_KvDecodeCold)
    ->ArgsProduct({{2, 3}, {32768}, {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_KvReadCold)
    ->ArgsProduct({{2, 3}, {32768}, {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_KvPrefill)->ArgsProduct({{0, 2, 3}, {4096}})->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace glmq::cpu

BENCHMARK_MAIN();
