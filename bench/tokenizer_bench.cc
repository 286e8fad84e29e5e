// Encoding speed of the tokenizer (bytes/s as reported by Google Benchmark)
// on the fixture corpus, with the real GLM-4 tokenizer.model (151k ranks)
// and a fixture tokenizer (4k tokens; tiktoken and tokenizer.json kinds).
//   build/bench/tokenizer_bench --benchmark_filter=Encode
#include <string>

#include "benchmark/benchmark.h"
#include "core/file.h"
#include "runtime/tokenizer/tokenizer.h"

namespace glmq {
namespace {

const std::string kShared = GLMQ_SHARED_DIR;

std::string ReadOrEmpty(const std::string& path) {
  auto s = ReadFileToString(path);
  return s.ok() ? *s : std::string();
}

const Tokenizer* Load(const std::string& which) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  auto& slot = cache[which];
  if (!slot) {
    absl::StatusOr<std::unique_ptr<Tokenizer>> t;
    if (which == "glm4") {
      const std::string dir = kShared + "/reference/tokenizer/glm-4";
      t = Tokenizer::FromFiles(
          {{"tokenizer.model", ReadOrEmpty(dir + "/tokenizer.model")},
           {"tokenizer_config.json", ReadOrEmpty(dir + "/glm-4-9b-chat/tokenizer_config.json")}});
    } else {
      t = Tokenizer::FromDir(kShared + "/fixtures/models/" + which);
    }
    if (t.ok()) slot = *std::move(t);
  }
  return slot.get();
}

void BM_Encode(benchmark::State& state, const std::string& which, const std::string& file) {
  const Tokenizer* tok = Load(which);
  const std::string text = ReadOrEmpty(kShared + "/fixtures/text/" + file);
  if (tok == nullptr || text.empty()) {
    state.SkipWithError("shared data missing");
    return;
  }
  size_t n_ids = 0;
  for (auto _ : state) {
    std::vector<int32_t> ids = tok->Encode(text);
    n_ids = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["tokens"] = static_cast<double>(n_ids);
}

void BM_Load(benchmark::State& state) {
  const std::string dir = kShared + "/reference/tokenizer/glm-4";
  const std::string model = ReadOrEmpty(dir + "/tokenizer.model");
  for (auto _ : state) {
    auto t = Tokenizer::FromFiles({{"tokenizer.model", model}});
    benchmark::DoNotOptimize(t.ok());
  }
}

BENCHMARK_CAPTURE(BM_Encode, glm4_valid, std::string("glm4"), std::string("valid.txt"))
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Encode, glm4_train, std::string("glm4"), std::string("train.txt"))
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Encode, fixture_tiktoken_valid, std::string("glm4-tiny-chat"),
                  std::string("valid.txt"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Encode, fixture_hfjson_valid, std::string("glm4-tiny-0414"),
                  std::string("valid.txt"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Encode, fixture_tiktoken_train, std::string("glm4-tiny-chat"),
                  std::string("train.txt"))->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Load)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace glmq

BENCHMARK_MAIN();
