// glmq logits M.glmq --ids IDS.npy [--last N] -o OUT.npy: float32 logits
// [rows, padded_vocab] of one token sequence run from position 0, for parity
// checks at long context. A thin tool over WriteSequenceLogits
// (runtime/sequence_logits.h).
#include <string>

#include "core/status.h"
#include "runtime/loaded_model.h"
#include "runtime/npy.h"
#include "runtime/sequence_logits.h"
#include "tools/command.h"
#include "tools/session_flags.h"

namespace glmq::tools {
namespace {

struct LogitsArgs {
  std::string model, ids, output;
  int64_t last = 0;
  int threads = 0;
  SessionFlags session;
};

absl::Status Run(const LogitsArgs& a) {
  GLMQ_ASSIGN_OR_RETURN(std::vector<int32_t> ids, ReadNpyInt32(a.ids));
  if (ids.empty()) return absl::InvalidArgumentError(a.ids + ": no token ids");
  GLMQ_ASSIGN_OR_RETURN(LoadedModel lm, LoadGlmqModel(a.model, a.threads));
  GLMQ_ASSIGN_OR_RETURN(
      std::unique_ptr<Session> s,
      NewSession(*lm.model, a.session, static_cast<int64_t>(ids.size()), "the sequence length"));
  return WriteSequenceLogits(*s, ids, a.last, a.output);
}

RunFn Setup(CLI::App* sub) {
  auto a = std::make_shared<LogitsArgs>();
  sub->add_option("model", a->model, "model .glmq")->required();
  sub->add_option("--ids", a->ids, "token ids, a 1-D int32 .npy, run as one sequence")->required();
  sub->add_option("-o,--output", a->output, "output .npy: float32 [rows, padded_vocab]")
      ->required();
  sub->add_option("--last", a->last, "keep only the last N rows (default: every position)");
  sub->add_option("-t,--threads", a->threads, "threads (default: all)");
  AddSessionFlags(sub, &a->session);
  return [a]() { return Run(*a); };
}

GLMQ_COMMAND(logits, "logits", "float32 logits of a token sequence (.npy in, .npy out)", Setup);

}  // namespace
}  // namespace glmq::tools
