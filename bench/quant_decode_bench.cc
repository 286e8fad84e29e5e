// Prefill and decode tokens/s of a .glmq model on the CPU backend (any
// encoding: bf16, q8, q4, ...), next to the weight bytes one decoded token
// reads and the memory bandwidth that implies (not a test).
//   quant_decode_bench MODEL.glmq [threads=2] [prefill_tokens=64]
//                      [decode_tokens=8] [prompt=16]
// Prints one line per phase; the model file should be in the page cache
// (a warm-up pass reads it once), else decode measures the disk.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "runtime/cpu/cpu_backend.h"
#include "runtime/model.h"
#include "runtime/session.h"
#include "runtime/weights.h"

namespace glmq {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// CPU seconds of this process (all threads, user + system): with other
// processes on the machine, wall-clock rates understate the code.
double CpuNow() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

int Run(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL.glmq [threads] [prefill] [decode] [prompt]\n", argv[0]);
    return 2;
  }
  const int threads = argc > 2 ? std::atoi(argv[2]) : 2;
  const int64_t n_prefill = argc > 3 ? std::atoll(argv[3]) : 64;
  const int64_t n_decode = argc > 4 ? std::atoll(argv[4]) : 8;
  const int64_t n_prompt = argc > 5 ? std::atoll(argv[5]) : 16;
  auto src = GlmqWeightSource::Open(argv[1]);
  if (!src.ok()) return std::fprintf(stderr, "%s\n", src.status().ToString().c_str()), 1;
  auto model = Model::Load(std::move(*src), std::make_unique<CpuBackend>(threads));
  if (!model.ok()) return std::fprintf(stderr, "%s\n", model.status().ToString().c_str()), 1;
  const Model* m = model->get();
  const double bytes = static_cast<double>(m->WeightBytesPerToken());
  SessionOptions so;
  so.max_context = std::max<int64_t>(n_prefill, n_prompt + n_decode + 1) + 1;
  so.prefill_chunk = std::max<int64_t>(n_prefill, n_prompt);
  so.all_logits = false;
  auto s = Session::Create(m, so);
  if (!s.ok()) return std::fprintf(stderr, "%s\n", s.status().ToString().c_str()), 1;
  std::vector<float> logits;
  std::vector<int32_t> ids(n_prefill);
  for (int64_t i = 0; i < n_prefill; ++i) ids[i] = static_cast<int32_t>((i * 7919) % 4000);
  // Warm-up: one token pulls every weight into the page cache.
  int32_t tok[1] = {42};
  if (!(*s)->Forward(tok, ForwardOutput::kLastLogits, &logits).ok()) return 1;
  (*s)->Reset();
  double t0 = Now(), c0 = CpuNow();
  if (!(*s)->Forward(ids, ForwardOutput::kLastLogits, &logits).ok()) return 1;
  const double prefill_s = Now() - t0, prefill_cpu = CpuNow() - c0;
  std::printf("prefill %lld tokens: %.3f s (%.3f CPU s), %.2f tok/s (threads %d)\n",
              static_cast<long long>(n_prefill), prefill_s, prefill_cpu, n_prefill / prefill_s,
              threads);
  (*s)->Reset();
  std::vector<int32_t> prompt(n_prompt, 17);
  if (!(*s)->Forward(prompt, ForwardOutput::kNone, nullptr).ok()) return 1;
  t0 = Now();
  c0 = CpuNow();
  for (int64_t i = 0; i < n_decode; ++i)
    if (!(*s)->Forward(tok, ForwardOutput::kLastLogits, &logits).ok()) return 1;
  const double decode_s = Now() - t0, decode_cpu = CpuNow() - c0;
  const double tps = n_decode / decode_s;
  std::printf("decode %lld tokens after %lld: %.3f s (%.3f CPU s), %.3f tok/s, %.1f MB "
              "weights/token, %.2f GB/s of weights (threads %d)\n",
              static_cast<long long>(n_decode), static_cast<long long>(n_prompt), decode_s,
              decode_cpu, tps, bytes / 1e6, bytes * tps / 1e9, threads);
  return 0;
}

}  // namespace
}  // namespace glmq

int main(int argc, char** argv) { return glmq::Run(argc, argv); }
