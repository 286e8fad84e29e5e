// Decode and prefill at long context on the CPU backend (not a test):
//   long_context_bench MODEL.glmq [threads=2] [contexts=1024,8192,32768,131072]
//                      [kv=bf16,int8] [decode_tokens=4] [prefill_tokens=256]
// For each KV type one session grows through the contexts: the cache is
// filled SYNTHETICALLY (Session::AppendSyntheticKv: random K and V, no
// prefill, which would take hours at 128K on a 9B model), then
// decode_tokens real tokens are decoded at that depth. Per row: decode tok/s
// (wall and CPU), the share of decode time in Attention (a timing decorator
// around the CPU backend), the KV bytes one token reads and their rate as a
// share of this machine's read bandwidth (measured here, 2 x 256 MiB), and
// the process's anonymous RSS against the planner's KV figure. With
// prefill_tokens > 0 a chunk of that many tokens is prefilled at the largest
// context <= 32K (after the synthetic fill), reporting tok/s at that depth.
#include <omp.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "plan/memory.h"
#include "runtime/cpu/cpu_backend.h"
#include "runtime/cpu/kernels.h"
#include "runtime/model.h"
#include "runtime/session.h"
#include "runtime/weights.h"

namespace glmq {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double CpuNow() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

// kB of a /proc/self/status field ("RssAnon:", "VmRSS:").
int64_t StatusKib(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) return std::atoll(line.c_str() + field.size());
  }
  return -1;
}

// The CPU backend with the wall time spent in Attention counted.
class TimingBackend : public Backend {
 public:
  explicit TimingBackend(int threads) : cpu_(threads) {}
  double attention_s = 0, attention_cpu_s = 0;  // wall, process CPU (all threads)
  std::string name() const override { return cpu_.name(); }
  absl::Status MatMul(const WeightView& w, const float* x, int64_t n, float* y) override {
    return cpu_.MatMul(w, x, n, y);
  }
  absl::Status Embedding(const WeightView& t, const int32_t* ids, int64_t n, float* o) override {
    return cpu_.Embedding(t, ids, n, o);
  }
  void RmsNorm(const float* x, const float* w, int64_t n, int64_t d, float eps,
               float* o) override {
    cpu_.RmsNorm(x, w, n, d, eps, o);
  }
  void AddBias(float* y, const float* b, int64_t n, int64_t d) override {
    cpu_.AddBias(y, b, n, d);
  }
  void Add(float* x, const float* y, int64_t n) override { cpu_.Add(x, y, n); }
  void Rope(float* x, int64_t rs, int64_t n, int64_t h, int64_t hd, int64_t rd, int64_t p,
            double base) override {
    cpu_.Rope(x, rs, n, h, hd, rd, p, base);
  }
  void RopePositions(float* x, int64_t rs, int64_t n, int64_t h, int64_t hd, int64_t rd,
                     const int64_t* pos, absl::Span<const int64_t> sections,
                     double base) override {
    cpu_.RopePositions(x, rs, n, h, hd, rd, pos, sections, base);
  }
  absl::StatusOr<void*> AllocateKvBlock(uint64_t bytes) override {
    return cpu_.AllocateKvBlock(bytes);
  }
  void FreeKvBlock(void* b, uint64_t bytes) override { cpu_.FreeKvBlock(b, bytes); }
  uint64_t AvailableMemoryBytes() const override { return cpu_.AvailableMemoryBytes(); }
  void WriteKv(const float* k, const float* v, int64_t rs, int64_t n, const AttentionShape& s,
               int64_t p, const KvCacheView& c) override {
    cpu_.WriteKv(k, v, rs, n, s, p, c);
  }
  void Attention(const float* q, int64_t qs, int64_t n, const AttentionShape& s, int64_t p,
                 const KvCacheView& c, float* scratch, float* out) override {
    const double t0 = Now(), c0 = CpuNow();
    cpu_.Attention(q, qs, n, s, p, c, scratch, out);
    attention_s += Now() - t0;
    attention_cpu_s += CpuNow() - c0;
  }
  void SwiGlu(const float* gu, int64_t n, int64_t ffn, float* o) override {
    cpu_.SwiGlu(gu, n, ffn, o);
  }
  int n_threads() const override { return cpu_.n_threads(); }

 private:
  CpuBackend cpu_;
};

// Read bandwidth (GB/s) of `threads` threads over 2 x 256 MiB, best of 3.
double ReadBandwidth(int threads) {
  const int64_t n = 64 << 20;
  std::vector<float> a(n, 1.f), b(n, 2.f);
  const cpu::DenseKernels& k = cpu::ActiveDenseKernels();
  double best = 0;
  volatile float sink = 0;
  for (int rep = 0; rep < 3; ++rep) {
    const double t0 = Now();
    float s = 0;
#pragma omp parallel num_threads(threads) reduction(+ : s)
    {
      const int64_t nt = omp_get_num_threads(), id = omp_get_thread_num();
      s += k.dot(a.data() + n * id / nt, b.data() + n * id / nt, n / nt);
    }
    sink = sink + s;
    best = std::max(best, 2.0 * n * 4 / (Now() - t0) / 1e9);
  }
  return best;
}

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, ',');) out.push_back(part);
  return out;
}

struct Args {
  std::string model;
  int threads = 2;
  std::vector<int64_t> contexts = {1024, 8192, 32768, 131072};
  std::vector<std::string> kv = {"bf16", "int8"};
  int64_t decode = 4, prefill = 256;
};

// One KV type through every context: synthetic fill, decode, RSS.
int RunKv(const Args& a, Model& m, TimingBackend& be, KvType kv, double bw_gbs) {
  SessionOptions so;
  so.max_context = a.contexts.back() + 1 + a.decode;  // + the untimed step
  so.kv_type = kv;
  so.prefill_chunk = std::max<int64_t>(a.prefill, 1);
  so.all_logits = false;
  auto s = Session::Create(&m, so);
  if (!s.ok()) return std::fprintf(stderr, "%s\n", s.status().ToString().c_str()), 1;
  Session& ses = **s;
  plan::PlanOptions po;
  po.contexts = a.contexts;
  auto plan = plan::MakePlan(m.hparams(), po);
  if (!plan.ok()) return std::fprintf(stderr, "%s\n", plan.status().ToString().c_str()), 1;
  const size_t ki = kv == KvType::kBF16 ? 0 : 1;
  const uint64_t per_token = ses.kv_cache().layout().BytesPerToken();
  const int64_t anon0 = StatusKib("RssAnon:");
  std::vector<float> logits;
  int32_t tok[1] = {42};
  int64_t first_ctx = -1, anon_first = 0;
  for (int64_t ctx : a.contexts) {
    const double f0 = Now();
    if (absl::Status st = ses.AppendSyntheticKv(ctx - ses.position(), 7); !st.ok())
      return std::fprintf(stderr, "%s\n", st.ToString().c_str()), 1;
    const double fill_s = Now() - f0;
    // One untimed step touches the new blocks' code paths and the weights.
    if (absl::Status st = ses.Forward(tok, ForwardOutput::kLastLogits, &logits); !st.ok())
      return std::fprintf(stderr, "%s\n", st.ToString().c_str()), 1;
    be.attention_s = be.attention_cpu_s = 0;
    const double t0 = Now(), c0 = CpuNow();
    for (int64_t i = 0; i < a.decode; ++i)
      if (!ses.Forward(tok, ForwardOutput::kLastLogits, &logits).ok()) return 1;
    const double wall = Now() - t0, cpu = CpuNow() - c0;
    const double tps = a.decode / wall;
    const double kv_read = static_cast<double>(per_token) * (ctx + 1 + a.decode / 2.0);
    const int64_t anon = StatusKib("RssAnon:");
    if (first_ctx < 0) first_ctx = ctx, anon_first = anon;
    const uint64_t held = ses.kv_cache().allocated_bytes();
    std::printf(
        "kv %-4s ctx %7lld: decode %.3f tok/s (%.3f s/token wall, %.3f CPU s), attention "
        "%.1f%% of wall (%.3f s/token), %.1f%% of CPU; KV read %.1f MB/token = %.2f GB/s = "
        "%.0f%% of %.1f GB/s read bandwidth (attention alone %.2f GB/s = %.0f%%, %.2f GB per "
        "CPU s); KV held %.1f MiB = plan %.1f MiB; RssAnon +%.1f MiB since 1st ctx (plan +%.1f "
        "MiB); synthetic fill %.1f s\n",
        std::string(Traits(kv).name).c_str(), static_cast<long long>(ctx), tps, wall / a.decode,
        cpu / a.decode, 100 * be.attention_s / wall, be.attention_s / a.decode,
        100 * be.attention_cpu_s / cpu, kv_read / 1e6, kv_read * tps / 1e9,
        100 * kv_read * tps / 1e9 / bw_gbs, bw_gbs, kv_read * a.decode / be.attention_s / 1e9,
        100 * kv_read * a.decode / be.attention_s / 1e9 / bw_gbs,
        kv_read * a.decode / be.attention_cpu_s / 1e9, held / 1048576.0,
        plan::KvBytes(*plan, ki, ses.position()) / 1048576.0, (anon - anon_first) / 1024.0,
        (plan::KvBytes(*plan, ki, ctx) - plan::KvBytes(*plan, ki, first_ctx)) / 1048576.0,
        fill_s);
    std::fflush(stdout);
  }
  std::printf("kv %s: RssAnon %.1f MiB before the session's first token, %.1f MiB at the end\n",
              std::string(Traits(kv).name).c_str(), anon0 / 1024.0,
              StatusKib("RssAnon:") / 1024.0);
  return 0;
}

// Prefill of a.prefill tokens at the largest context <= 32K.
int RunPrefill(const Args& a, Model& m, TimingBackend& be, KvType kv) {
  int64_t ctx = 0;
  for (int64_t c : a.contexts)
    if (c <= 32768) ctx = c;
  if (a.prefill <= 0 || ctx <= a.prefill) return 0;
  SessionOptions so;
  so.max_context = ctx;
  so.kv_type = kv;
  so.prefill_chunk = a.prefill;
  so.all_logits = false;
  auto s = Session::Create(&m, so);
  if (!s.ok()) return std::fprintf(stderr, "%s\n", s.status().ToString().c_str()), 1;
  if (!(*s)->AppendSyntheticKv(ctx - a.prefill, 7).ok()) return 1;
  std::vector<int32_t> ids(a.prefill);
  for (int64_t i = 0; i < a.prefill; ++i) ids[i] = static_cast<int32_t>((i * 7919) % 4000);
  std::vector<float> logits;
  be.attention_s = be.attention_cpu_s = 0;
  const double t0 = Now(), c0 = CpuNow();
  if (!(*s)->Forward(ids, ForwardOutput::kLastLogits, &logits).ok()) return 1;
  const double wall = Now() - t0, cpu = CpuNow() - c0;
  std::printf("kv %-4s prefill of %lld tokens at positions %lld..%lld: %.2f tok/s (%.1f s wall, "
              "%.1f CPU s), attention %.1f%% of wall, %.1f%% of CPU\n",
              std::string(Traits(kv).name).c_str(), static_cast<long long>(a.prefill),
              static_cast<long long>(ctx - a.prefill), static_cast<long long>(ctx - 1),
              a.prefill / wall, wall, cpu, 100 * be.attention_s / wall,
              100 * be.attention_cpu_s / cpu);
  return 0;
}

int Run(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL.glmq [threads] [contexts] [kv] [decode] [prefill]\n",
                 argv[0]);
    return 2;
  }
  Args a;
  a.model = argv[1];
  if (argc > 2) a.threads = std::atoi(argv[2]);
  if (argc > 3) {
    a.contexts.clear();
    for (const std::string& c : Split(argv[3])) a.contexts.push_back(std::atoll(c.c_str()));
  }
  if (argc > 4) a.kv = Split(argv[4]);
  if (argc > 5) a.decode = std::atoll(argv[5]);
  if (argc > 6) a.prefill = std::atoll(argv[6]);
  auto src = GlmqWeightSource::Open(a.model);
  if (!src.ok()) return std::fprintf(stderr, "%s\n", src.status().ToString().c_str()), 1;
  auto owned = std::make_unique<TimingBackend>(a.threads);
  TimingBackend& be = *owned;
  auto model = Model::Load(std::move(*src), std::move(owned));
  if (!model.ok()) return std::fprintf(stderr, "%s\n", model.status().ToString().c_str()), 1;
  const double bw = ReadBandwidth(a.threads);
  std::printf("%s: %s, read bandwidth %.1f GB/s (%d threads), weights %.1f MB/token\n",
              a.model.c_str(), be.name().c_str(), bw, a.threads,
              (*model)->WeightBytesPerToken() / 1e6);
  for (const std::string& name : a.kv) {
    auto kv = ParseKvType(name);
    if (!kv.ok()) return std::fprintf(stderr, "%s\n", kv.status().ToString().c_str()), 1;
    if (RunKv(a, **model, be, *kv, bw) != 0) return 1;
    if (RunPrefill(a, **model, be, *kv) != 0) return 1;
  }
  std::printf("read bandwidth after: %.1f GB/s\n", ReadBandwidth(a.threads));
  return 0;
}

}  // namespace
}  // namespace glmq

int main(int argc, char** argv) { return glmq::Run(argc, argv); }
