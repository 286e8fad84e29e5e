// CUDA runtime figures for bench/cuda_check.sh (not a test): the card,
// driver and CUDA version; decode tok/s of a .glmq at given context
// lengths with the weight bytes/s it implies as a share of the card's
// peak memory bandwidth; prefill tok/s; and the prefill GEMM (bf16 and
// q4-g128 weights, through the backend) against a bare cuBLAS bf16 GEMM
// of the same shape. Prints markdown table rows.
//   cuda_bench info
//   cuda_bench model MODEL.glmq [contexts=1024,32768] [decode=32] [prefill=2048] [kv=bf16]
// (decode runs after a synthetic KV fill of the context, Session::AppendSyntheticKv)
//   cuda_bench gemm [rows=27392] [cols=4096] [tokens=2048]
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "quant/reference.h"
#include "runtime/cuda/cuda_backend.h"
#include "runtime/kv_layout.h"
#include "runtime/model.h"
#include "runtime/session.h"
#include "runtime/weights.h"
#include "schema/encodings.h"

namespace glmq {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "error: %s\n", s.ToString().c_str());
  return 1;
}

// Peak DRAM bandwidth from the memory clock (kHz, DDR) and bus width.
double PeakBandwidth(int dev) {
  int khz = 0, bits = 0;
  cudaDeviceGetAttribute(&khz, cudaDevAttrMemoryClockRate, dev);
  cudaDeviceGetAttribute(&bits, cudaDevAttrGlobalMemoryBusWidth, dev);
  return 2.0 * khz * 1e3 * bits / 8;
}

int Info() {
  cudaDeviceProp p;
  if (cudaGetDeviceProperties(&p, 0) != cudaSuccess) return std::puts("no CUDA device"), 1;
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  std::printf("card: %s (sm_%d%d, %d SMs, %.1f GiB); driver API %d; CUDA runtime %d; "
              "peak memory bandwidth from clock x bus %.0f GB/s\n",
              p.name, p.major, p.minor, p.multiProcessorCount, p.totalGlobalMem / 1073741824.0,
              driver, runtime, PeakBandwidth(0) / 1e9);
  return 0;
}

int ModelBench(int argc, char** argv) {
  const std::string path = argv[2];
  std::vector<int64_t> contexts = {1024, 32768};
  if (argc > 3) {
    contexts.clear();
    for (absl::string_view c : absl::StrSplit(argv[3], ',')) {
      int64_t v;
      if (absl::SimpleAtoi(c, &v)) contexts.push_back(v);
    }
  }
  const int64_t n_decode = argc > 4 ? std::atoll(argv[4]) : 32;
  const int64_t n_prefill = argc > 5 ? std::atoll(argv[5]) : 2048;
  auto backend = MakeCudaBackend(0);
  if (!backend.ok()) return Fail(backend.status());
  auto src = GlmqWeightSource::Open(path);
  if (!src.ok()) return Fail(src.status());
  const double t0 = Now();
  auto model = Model::Load(std::move(*src), std::move(*backend));
  if (!model.ok()) return Fail(model.status());
  const Model& m = **model;
  std::printf("| %s | load + upload | | %.1f s | |\n", path.c_str(), Now() - t0);
  const double bytes = static_cast<double>(m.WeightBytesPerToken());
  const double peak = PeakBandwidth(0);
  auto kv = ParseKvType(argc > 6 ? argv[6] : "bf16");
  if (!kv.ok()) return Fail(kv.status());
  std::mt19937 rng(1);
  std::uniform_int_distribution<int32_t> id(0, static_cast<int32_t>(m.hparams().vocab_size()) - 1);
  auto session = [&](int64_t ctx, int64_t chunk) {
    SessionOptions so;
    so.max_context = ctx;
    so.context_override = true;
    so.prefill_chunk = chunk;
    so.all_logits = false;
    so.kv_type = *kv;
    return Session::Create(&m, so);
  };
  std::vector<float> logits;
  {
    auto s = session(n_prefill + 1, n_prefill);
    if (!s.ok()) return Fail(s.status());
    std::vector<int32_t> ids(n_prefill);
    for (int32_t& v : ids) v = id(rng);
    const double t = Now();
    if (absl::Status st = (*s)->Forward(ids, ForwardOutput::kLastLogits, &logits); !st.ok())
      return Fail(st);
    std::printf("| %s | prefill %lld tokens in one chunk | %lld | %.1f tok/s | |\n",
                path.c_str(), static_cast<long long>(n_prefill),
                static_cast<long long>(n_prefill), n_prefill / (Now() - t));
  }
  for (int64_t ctx : contexts) {
    auto s = session(ctx + n_decode + 1, 512);
    if (!s.ok()) return Fail(s.status());
    // The context's KV contents are synthetic (Session::AppendSyntheticKv):
    // decode reads every position as it would after a real prefill.
    if (absl::Status st = (*s)->AppendSyntheticKv(ctx, 1); !st.ok()) return Fail(st);
    for (int i = 0; i < 2; ++i) {  // warm-up
      if (absl::Status st = (*s)->Forward({id(rng)}, ForwardOutput::kLastLogits, &logits);
          !st.ok())
        return Fail(st);
    }
    const double t = Now();
    for (int64_t i = 0; i < n_decode; ++i) {
      if (absl::Status st = (*s)->Forward({id(rng)}, ForwardOutput::kLastLogits, &logits);
          !st.ok())
        return Fail(st);
    }
    const double tps = n_decode / (Now() - t);
    std::printf("| %s | decode %lld tokens, KV %s (synthetic) | %lld | %.2f tok/s | %.0f GB/s "
                "of weights = %.1f %% of %.0f GB/s |\n",
                path.c_str(), static_cast<long long>(n_decode), argc > 6 ? argv[6] : "bf16",
                static_cast<long long>(ctx), tps, tps * bytes / 1e9, 100 * tps * bytes / peak,
                peak / 1e9);
  }
  return 0;
}

// Seconds per call of fn (after one warm-up), synchronized.
template <typename F>
double Time(F&& fn, int reps = 10) {
  fn();
  cudaDeviceSynchronize();
  const double t = Now();
  for (int i = 0; i < reps; ++i) fn();
  cudaDeviceSynchronize();
  return (Now() - t) / reps;
}

int GemmBench(int argc, char** argv) {
  const int64_t rows = argc > 2 ? std::atoll(argv[2]) : 27392;
  const int64_t cols = argc > 3 ? std::atoll(argv[3]) : 4096;
  const int64_t n = argc > 4 ? std::atoll(argv[4]) : 2048;
  const double flops = 2.0 * rows * cols * n;
  auto backend = MakeCudaBackend(0);
  if (!backend.ok()) return Fail(backend.status());
  Backend& be = **backend;
  std::mt19937 rng(2);
  std::normal_distribution<float> nd(0.f, 0.02f);
  std::vector<float> wf(rows * cols);
  for (float& v : wf) v = nd(rng);
  auto x = be.AllocateFloats(n * cols);
  auto y = be.AllocateFloats(n * rows);
  if (!x.ok() || !y.ok()) return Fail(!x.ok() ? x.status() : y.status());
  // Bare cuBLAS: bf16 x bf16 -> f32, f32 compute.
  void *a = nullptr, *b = nullptr;
  cudaMalloc(&a, rows * cols * 2);
  cudaMalloc(&b, n * cols * 2);
  cudaMemset(a, 0, rows * cols * 2);
  cudaMemset(b, 0, n * cols * 2);
  cublasHandle_t h;
  cublasCreate(&h);
  const float alpha = 1.f, beta = 0.f;
  const double cublas_s = Time([&] {
    cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, rows, n, cols, &alpha, a, CUDA_R_16BF, cols, b,
                 CUDA_R_16BF, cols, &beta, *y, CUDA_R_32F, rows, CUBLAS_COMPUTE_32F,
                 CUBLAS_GEMM_DEFAULT);
  });
  std::printf("| GEMM [%lld, %lld] x %lld | cuBLAS bf16 | %.1f TFLOP/s | 100 %% |\n",
              static_cast<long long>(rows), static_cast<long long>(cols),
              static_cast<long long>(n), flops / cublas_s / 1e12);
  for (const auto& [enc, g] : std::vector<std::pair<pb::Encoding, int>>{
           {pb::ENCODING_BF16, 0}, {pb::ENCODING_Q4_SYM, 128}, {pb::ENCODING_Q8_SYM, 32}}) {
    std::vector<uint8_t> bytes;
    DType dt;
    if (DenseDType(enc, &dt)) {
      bytes.resize(rows * cols * 2);
      ConvertFromF32(dt, wf.data(), bytes.data(), rows * cols);
    } else {
      const GroupGeometry geo = GetGroupGeometry(enc, g, cols).value();
      bytes.resize(rows * geo.row_bytes);
      for (int64_t r = 0; r < rows; ++r)
        QuantizeRowRef(geo, wf.data() + r * cols, cols, bytes.data() + r * geo.row_bytes);
    }
    const WeightView w =
        MakeWeightView("bench", enc, g, {rows, cols}, bytes.data(), bytes.size()).value();
    if (absl::Status s = be.PrepareWeight(w); !s.ok()) return Fail(s);
    absl::Status st;
    const double s = Time([&] { st.Update(be.MatMul(w, *x, n, *y)); });
    if (!st.ok()) return Fail(st);
    std::printf("| GEMM [%lld, %lld] x %lld | glmq %s g%d | %.1f TFLOP/s | %.0f %% of cuBLAS |\n",
                static_cast<long long>(rows), static_cast<long long>(cols),
                static_cast<long long>(n), pb::Encoding_Name(enc).c_str(), g,
                flops / s / 1e12, 100 * cublas_s / s);
  }
  cublasDestroy(h);
  cudaFree(a);
  cudaFree(b);
  return 0;
}

}  // namespace
}  // namespace glmq

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "info") return glmq::Info();
  if (mode == "model" && argc > 2) return glmq::ModelBench(argc, argv);
  if (mode == "gemm") return glmq::GemmBench(argc, argv);
  std::fprintf(stderr,
               "usage: cuda_bench info | model MODEL.glmq [contexts] [decode] [prefill] | gemm "
               "[rows] [cols] [tokens]\n");
  return 2;
}
