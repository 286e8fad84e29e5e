// Writer throughput (including the final fsync) and VerifyChecksums speed
// over a file of 16 tensors of 16 MiB each (256 MiB). The file lives in
// $TMPDIR (default /tmp); the verify numbers are page-cache warm.
#include <cstdlib>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "format/reader.h"
#include "format/test_util.h"
#include "format/writer.h"

namespace glmq {
namespace {

constexpr int kTensors = 16;
constexpr int64_t kRows = 4096, kCols = 2048;  // bf16: 16 MiB per tensor

std::string BenchPath() {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/glmq_format_bench.glmq";
}

absl::Status WriteBenchFile(const std::string& path, const std::vector<uint8_t>& data) {
  GLMQ_ASSIGN_OR_RETURN(auto w, GlmqWriter::Create(path));
  for (int i = 0; i < kTensors; ++i) {
    GLMQ_RETURN_IF_ERROR(w->AddTensor(
        testing::Entry("t" + std::to_string(i), pb::ENCODING_BF16, {kRows, kCols}), data));
  }
  return w->Finish();
}

void BM_WriterThroughput(benchmark::State& state) {
  const std::vector<uint8_t> data = testing::TestBytes(kRows * kCols * 2, 1);
  const std::string path = BenchPath();
  for (auto _ : state) {
    const absl::Status s = WriteBenchFile(path, data);
    if (!s.ok()) state.SkipWithError(std::string(s.message()).c_str());
  }
  state.SetBytesProcessed(state.iterations() * kTensors * static_cast<int64_t>(data.size()));
  std::remove(path.c_str());
}
BENCHMARK(BM_WriterThroughput)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_VerifyChecksums(benchmark::State& state) {
  const std::string path = BenchPath();
  if (!WriteBenchFile(path, testing::TestBytes(kRows * kCols * 2, 2)).ok()) {
    state.SkipWithError("cannot write the bench file");
    return;
  }
  auto f = GlmqFile::Open(path);
  if (!f.ok()) {
    state.SkipWithError(std::string(f.status().message()).c_str());
    return;
  }
  for (auto _ : state) {
    const absl::Status s = (*f)->VerifyChecksums();
    if (!s.ok()) state.SkipWithError(std::string(s.message()).c_str());
  }
  state.SetBytesProcessed(state.iterations() * kTensors * kRows * kCols * 2);
  std::remove(path.c_str());
}
BENCHMARK(BM_VerifyChecksums)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_OpenAndValidate(benchmark::State& state) {
  const std::string path = BenchPath();
  if (!WriteBenchFile(path, testing::TestBytes(kRows * kCols * 2, 3)).ok()) {
    state.SkipWithError("cannot write the bench file");
    return;
  }
  for (auto _ : state) {
    auto f = GlmqFile::Open(path);
    if (!f.ok()) state.SkipWithError(std::string(f.status().message()).c_str());
    benchmark::DoNotOptimize(f);
  }
  std::remove(path.c_str());
}
BENCHMARK(BM_OpenAndValidate)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace glmq

BENCHMARK_MAIN();
