// Vision-encoder time per image (never a test) for the full-size towers
// with random weights, configs from ../shared/reference/configs:
//   - glm-4v-9b (EVA2-CLIP: 1120 x 1120 -> 6400 patches + CLS, width 1792,
//     63 layers, 16 heads of 112, MLP 15360),
//   - GLM-4.1V-9B-Thinking (1120 x 1120 -> 80 x 80 = 6400 patches, width
//     1536, 24 layers, 12 heads of 128, MLP 4096).
// The whole towers hold 8.5 / 1.4 GB of bf16 weights and take minutes per
// image on 2 cores, so BM_VisionTower builds GLMQ_BENCH_LAYERS layers
// (default 2), times every stage through the trace callback, and ESTIMATES
// the image as stem + depth x (mean layer) + head; the counters say so:
// stem_s (patch embedding .. "embed"), layer_s (mean per layer), head_s
// (after the last layer: merge conv, projector), est_image_s; the same in
// CPU seconds of all threads (*_cpu_s: less sensitive to other load on the
// machine), and layer_GFLOP/cpu_s (multiply-adds x 2 of the layer's matmuls
// and attention per CPU second).
// Args: model (0 glm-4v-9b, 1 GLM-4.1V), weights (0 bf16, 1 q8-g32).
// BM_VisionTowerCuda: the whole tower (full depth unless GLMQ_BENCH_LAYERS
// is set) on CUDA device 0, wall time per image after one warm-up image
// (which uploads the weights); skipped without a device.
// BM_VisionAttention: the tiled attention alone at the full-size shapes.
// Threads: GLMQ_BENCH_THREADS (default 2). On a shared machine set
// OMP_WAIT_POLICY=passive.
#include <time.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "convert/hf_config.h"
#include "quant/quantize.h"
#include "runtime/cpu/cpu_backend.h"
#include "runtime/cuda/cuda_backend.h"
#include "runtime/vision/vision_tower.h"

namespace glmq {
namespace {

int EnvInt(const char* name, int fallback) {
  const char* e = std::getenv(name);
  return e ? std::atoi(e) : fallback;
}

struct Model {
  const char* name;
  const char* config;  // under ../shared/reference/configs
  int64_t image;       // px, square
};
const Model kModels[] = {{"glm-4v-9b", "glm-4v-9b.json", 1120},
                         {"GLM-4.1V-9B-Thinking", "GLM-4.1V-9B-Thinking.json", 1120}};

pb::HParams LoadHParams(const Model& m) {
  const std::string path = std::string(GLMQ_SHARED_DIR) + "/reference/configs/" + m.config;
  return HParamsFromConfigFile(path).value();
}

// Fills `values` uniformly in [-a, a] (xorshift; fast for ~10^8 values).
void Uniform(std::vector<float>* values, float a, uint64_t seed) {
  uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
  for (float& v : *values) {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    v = a * (static_cast<float>(s >> 40) / static_cast<float>(1 << 23) - 1.0f);
  }
}

// Every tensor of c's tower: matrices with variance 1 / cols (bf16 or q8),
// norm weights 1, biases 0, the position table +-0.02.
std::unique_ptr<InMemoryWeightSource> RandomTower(const pb::HParams& hp, bool q8) {
  auto src = std::make_unique<InMemoryWeightSource>(hp);
  uint64_t seed = 1;
  const std::vector<VisionTensor> tensors = VisionTensors(hp).value();
  for (const VisionTensor& vt : tensors) {
    const ModelTensor& t = vt.tensor;
    const bool matrix = vt.use == VisionUse::kMatrix;
    int64_t n = 1;
    for (int64_t d : t.shape) n *= d;
    std::vector<float> v(n, absl::EndsWith(t.name, ".bias") ? 0.f : 1.f);
    if (vt.use == VisionUse::kVector) {
      src->AddBf16(t.name, t.shape, v);
      continue;
    }
    const int64_t rows = t.shape[0], cols = n / rows;
    Uniform(&v, matrix ? std::sqrt(3.0f / cols) : 0.02f, seed++);
    if (!matrix || !q8) {
      src->AddBf16(t.name, t.shape, v);
      continue;
    }
    const QuantSpec spec{pb::ENCODING_Q8_SYM, 32};
    std::string bytes(QuantizedBytes(spec, rows, cols).value(), '\0');
    QuantizeMatrix(v.data(), rows, cols, spec, nullptr, reinterpret_cast<uint8_t*>(bytes.data()),
                   nullptr)
        .value();
    src->AddEncoded(t.name, pb::ENCODING_Q8_SYM, 32, {rows, cols}, std::move(bytes));
  }
  return src;
}

// CPU seconds of all threads of this process: under load (other builds on
// the same cores) wall time overstates the cost, CPU time much less.
double ProcessCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// Multiply-adds x 2 of one block on n rows: its matmuls and attention.
double LayerFlops(const VisionConfig& c, int64_t n) {
  const double h = c.hidden_size, mlp = c.mlp_size;
  const double mats = 3 * h * h + h * h + (c.layout == pb::LAYOUT_GLM4V ? 3 : 2) * h * mlp;
  return 2.0 * n * mats + 4.0 * static_cast<double>(n) * n * h;
}

void BM_VisionTower(benchmark::State& state) {
  const Model& m = kModels[state.range(0)];
  const bool q8 = state.range(1) != 0;
  pb::HParams hp = LoadHParams(m);
  const int64_t depth = hp.vision().n_layers();
  hp.mutable_vision()->set_n_layers(EnvInt("GLMQ_BENCH_LAYERS", 2));
  const VisionConfig c = VisionConfigFromHParams(hp).value();
  const auto source = RandomTower(hp, q8);
  CpuBackend be(EnvInt("GLMQ_BENCH_THREADS", 2));
  auto tower = VisionTower::Load(*source, c, &be).value();
  const int64_t side = m.image / c.patch_size, n = side * side;
  std::vector<float> pixels(n * c.patch_values());
  Uniform(&pixels, 2.0f, 99);
  using Clock = std::chrono::steady_clock;
  struct Time {
    double wall, cpu;  // seconds since the start: wall clock, CPU of all threads
  };
  std::map<std::string, Time> at;  // stage -> when it ended
  for (auto _ : state) {
    const Clock::time_point t0 = Clock::now();
    const double cpu0 = ProcessCpuSeconds();
    auto trace = [&](absl::string_view stage, const float*, int64_t, int64_t) {
      at[std::string(stage)] = {std::chrono::duration<double>(Clock::now() - t0).count(),
                                ProcessCpuSeconds() - cpu0};
    };
    if (c.layout == pb::LAYOUT_CHATGLM_VISION) {
      tower->EncodeImage(pixels, m.image, m.image, trace).value();
    } else {
      tower->EncodePatches(pixels, {1, side, side}, trace).value();
    }
  }
  const Time embed = at["embed"], out = at["out"];
  const Time last =
      at[absl::StrCat(c.layout == pb::LAYOUT_GLM4V ? "block" : "layer", c.n_layers - 1)];
  const int64_t rows = c.layout == pb::LAYOUT_GLM4V ? n : n + 1;
  for (const auto& [suffix, get] :
       {std::pair<const char*, double Time::*>{"s", &Time::wall}, {"cpu_s", &Time::cpu}}) {
    const double layer = (last.*get - embed.*get) / c.n_layers;
    state.counters[absl::StrCat("stem_", suffix)] = embed.*get;
    state.counters[absl::StrCat("layer_", suffix)] = layer;
    state.counters[absl::StrCat("head_", suffix)] = out.*get - last.*get;
    state.counters[absl::StrCat("est_image_", suffix)] = out.*get + (depth - c.n_layers) * layer;
  }
  state.counters["layer_GFLOP/cpu_s"] = LayerFlops(c, rows) / state.counters["layer_cpu_s"] / 1e9;
  state.SetLabel(absl::StrCat(m.name, q8 ? " q8-g32" : " bf16", ", ", rows, " rows; est = stem + ",
                              depth, " x layer (mean of ", c.n_layers, ") + head"));
}
BENCHMARK(BM_VisionTower)
    ->ArgsProduct({{0, 1}, {0, 1}})
    ->Iterations(1)
    ->UseRealTime()
    ->MeasureProcessCPUTime()
    ->Unit(benchmark::kSecond);

void BM_VisionTowerCuda(benchmark::State& state) {
  if (CudaDeviceCount() == 0) {
    state.SkipWithError("no CUDA device");
    for (auto _ : state) {
    }
    return;
  }
  const Model& m = kModels[state.range(0)];
  pb::HParams hp = LoadHParams(m);
  const int64_t depth = hp.vision().n_layers();
  hp.mutable_vision()->set_n_layers(EnvInt("GLMQ_BENCH_LAYERS", static_cast<int>(depth)));
  const VisionConfig c = VisionConfigFromHParams(hp).value();
  const auto source = RandomTower(hp, state.range(1) != 0);
  std::unique_ptr<Backend> be = MakeCudaBackend(0).value();
  auto tower = VisionTower::Load(*source, c, be.get()).value();
  const int64_t side = m.image / c.patch_size, n = side * side;
  std::vector<float> pixels(n * c.patch_values());
  Uniform(&pixels, 2.0f, 99);
  auto encode = [&] {
    if (c.layout == pb::LAYOUT_CHATGLM_VISION) {
      tower->EncodeImage(pixels, m.image, m.image).value();
    } else {
      tower->EncodePatches(pixels, {1, side, side}).value();
    }
  };
  encode();  // uploads the weights
  for (auto _ : state) encode();
  state.counters["layers"] = static_cast<double>(c.n_layers);
  state.SetLabel(absl::StrCat(m.name, state.range(1) ? " q8-g32" : " bf16", ", ", be->name(),
                              ", ", c.n_layers, " of ", depth, " layers"));
}
BENCHMARK(BM_VisionTowerCuda)
    ->ArgsProduct({{0, 1}, {0}})
    ->Iterations(3)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

void BM_VisionAttention(benchmark::State& state) {
  const Model& m = kModels[state.range(0)];
  const VisionConfig c = VisionConfigFromHParams(LoadHParams(m)).value();
  const int64_t side = m.image / c.patch_size;
  const int64_t n = side * side + (c.layout == pb::LAYOUT_GLM4V ? 0 : 1);
  const vision::QkvLayout s{n, c.n_heads, c.head_dim(), 3 * c.hidden_size};
  std::vector<float> qkv(n * s.row_stride), out(n * c.hidden_size);
  Uniform(&qkv, 1.0f, 5);
  vision::AttentionScratch scratch;
  const int threads = EnvInt("GLMQ_BENCH_THREADS", 2);
  const double cpu0 = ProcessCpuSeconds();
  for (auto _ : state) vision::Attention(qkv.data(), s, out.data(), threads, &scratch);
  const double flops = 4.0 * n * n * c.hidden_size * state.iterations();
  state.counters["GFLOP/s"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsRate);
  state.counters["GFLOP/cpu_s"] = flops / 1e9 / (ProcessCpuSeconds() - cpu0);
  state.SetLabel(absl::StrCat(m.name, ": ", n, " rows, ", c.n_heads, " heads of ", c.head_dim()));
}
BENCHMARK(BM_VisionAttention)
    ->Arg(0)
    ->Arg(1)
    ->Iterations(1)
    ->UseRealTime()
    ->MeasureProcessCPUTime()
    ->Unit(benchmark::kSecond);

}  // namespace
}  // namespace glmq

BENCHMARK_MAIN();
