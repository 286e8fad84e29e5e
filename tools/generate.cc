// glmq generate MODEL --prompt TEXT: greedy (temp 0) or sampled text
// generation with the CPU runtime; stops at any eos id or after -n tokens.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>

#include "core/status.h"
#include "runtime/loaded_model.h"
#include "runtime/session.h"
#include "tools/command.h"

namespace glmq::tools {
namespace {

struct GenArgs {
  std::string model, prompt;
  bool chat = false, no_verify = false;
  double temp = 0;
  int n = 128, threads = 0;
  uint64_t seed = 0;
  int64_t ctx = 4096;
};

// Greedy at temp <= 0 (lowest id wins ties), else softmax(logits / temp).
int32_t Pick(const std::vector<float>& logits, int64_t vocab, double temp, std::mt19937_64& rng) {
  int32_t best = 0;
  for (int64_t i = 1; i < vocab; ++i)
    if (logits[i] > logits[best]) best = static_cast<int32_t>(i);
  if (temp <= 0) return best;
  std::vector<double> p(vocab);
  double sum = 0;
  for (int64_t i = 0; i < vocab; ++i) sum += (p[i] = std::exp((logits[i] - logits[best]) / temp));
  std::uniform_real_distribution<double> u(0, sum);
  double r = u(rng);
  for (int64_t i = 0; i < vocab; ++i) {
    if ((r -= p[i]) <= 0) return static_cast<int32_t>(i);
  }
  return best;
}

absl::Status Run(const GenArgs& a) {
  if (!(a.temp >= 0 && std::isfinite(a.temp)))
    return absl::InvalidArgumentError("--temp must be a finite number >= 0");
  GLMQ_ASSIGN_OR_RETURN(LoadedModel lm, LoadGlmqModel(a.model, a.threads, !a.no_verify));
  const Tokenizer& tok = *lm.tokenizer;
  std::vector<int32_t> ids = a.chat ? tok.EncodeChat({{"user", a.prompt}}) : tok.Encode(a.prompt);
  if (ids.empty()) {  // no logits to pick the first token from
    return absl::InvalidArgumentError("--prompt is empty: give some text (or use --chat)");
  }
  SessionOptions so;
  so.max_context = a.ctx;
  so.all_logits = false;
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<Session> s, Session::Create(lm.model.get(), so));
  // Only real tokens may be sampled (the padding rows are untrained).
  const int64_t vocab = tok.vocab_size() > 0 ? std::min<int64_t>(tok.vocab_size(),
                                                lm.model->hparams().padded_vocab_size())
                                             : lm.model->hparams().padded_vocab_size();
  std::mt19937_64 rng(a.seed);
  std::vector<float> logits;
  const auto t0 = std::chrono::steady_clock::now();
  GLMQ_RETURN_IF_ERROR(s->Forward(ids, ForwardOutput::kLastLogits, &logits));
  const auto t1 = std::chrono::steady_clock::now();
  int generated = 0;
  std::fprintf(stdout, "%s", a.chat ? "" : a.prompt.c_str());
  for (; generated < a.n; ++generated) {
    const int32_t next = Pick(logits, vocab, a.temp, rng);
    if (tok.IsEos(next)) break;
    const std::string piece = tok.DecodeToken(next);
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
    if (s->position() >= s->max_context()) break;
    const int32_t one[1] = {next};
    GLMQ_RETURN_IF_ERROR(s->Forward(one, ForwardOutput::kLastLogits, &logits));
  }
  const auto t2 = std::chrono::steady_clock::now();
  const double pre = std::chrono::duration<double>(t1 - t0).count();
  const double dec = std::chrono::duration<double>(t2 - t1).count();
  std::fprintf(stdout, "\n");
  std::fflush(stdout);
  std::fprintf(stderr, "prompt %zu tokens in %.3f s (%.1f tok/s); %d tokens generated in %.3f s "
               "(%.2f tok/s) on %s\n", ids.size(), pre, ids.size() / pre, generated, dec,
               generated > 0 ? generated / dec : 0.0, lm.model->backend().name().c_str());
  return absl::OkStatus();
}

RunFn Setup(CLI::App* sub) {
  auto a = std::make_shared<GenArgs>();
  sub->add_option("model", a->model, "model .glmq")->required();
  sub->add_option("--prompt", a->prompt, "prompt text")->required();
  sub->add_flag("--chat", a->chat, "wrap the prompt in GLM-4's chat format");
  sub->add_option("--temp", a->temp, "sampling temperature (0 = greedy, default)");
  sub->add_option("-n", a->n, "maximum new tokens (default 128)");
  sub->add_option("--seed", a->seed, "random seed for sampling");
  sub->add_option("--ctx", a->ctx, "context size (default 4096)");
  sub->add_option("-t,--threads", a->threads, "threads (default: all)");
  sub->add_flag("--no-verify", a->no_verify, "skip the checksums of the model's tensors at load");
  return [a]() { return Run(*a); };
}

GLMQ_COMMAND(generate, "generate", "generate text from a prompt with the CPU runtime", Setup);

}  // namespace
}  // namespace glmq::tools
