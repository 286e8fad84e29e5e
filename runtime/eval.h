// Evaluation of a model on a token stream: perplexity under three window
// protocols, and KL divergence of a model against a reference (live or from
// saved logits, runtime/logits_file.h). NLLs come from log-softmax of the f32
// logits over all padded_vocab rows, accumulated in f64.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "runtime/session.h"

namespace glmq {

enum class ScoreMode {
  kAll,         // score every token of a window but its first (the fixtures' protocol)
  kSecondHalf,  // llama-perplexity: only tokens in the second half of each window
};

struct PplOptions {
  int64_t ctx = 256;     // window length
  int64_t stride = 0;    // > 0: HF-style sliding windows (overlapping by ctx - stride)
  ScoreMode score = ScoreMode::kAll;
  int64_t max_windows = 0;  // > 0: stop after this many windows
};

// Window w covers tokens [begin, begin + len); targets j in [first_target,
// len) are scored, each from the logits at j - 1.
struct Window {
  int64_t begin = 0, len = 0, first_target = 1;
};

// The windows of `opts` over n_tokens tokens. Non-overlapping (stride 0):
// consecutive windows of ctx, the incomplete last one dropped; first_target
// = 1 (kAll) or ctx / 2 + 1 (kSecondHalf, as llama-perplexity). Strided:
// windows start at 0, S, 2S, ... (last one clipped at the end) and score
// only the targets no earlier window scored.
absl::StatusOr<std::vector<Window>> PlanWindows(int64_t n_tokens, const PplOptions& opts);

// Running NLL statistics.
struct NllStats {
  int64_t count = 0;
  double sum = 0, sum_sq = 0;
  void Add(double nll) { ++count; sum += nll; sum_sq += nll * nll; }
  double mean() const { return count ? sum / count : 0; }
  // Standard error of the mean NLL.
  double stderr_mean() const;
  double ppl() const;
  // PPL's standard error, propagated: d exp(m) = exp(m) dm.
  double ppl_stderr() const { return ppl() * stderr_mean(); }
};

struct PplResult {
  int64_t tokens = 0, windows = 0;
  NllStats nll;
  bool non_finite = false;  // some logit was NaN or Inf
};

// Row-wise log-softmax in f64: out[i] = x[i] - logsumexp(x).
void LogSoftmax(const float* x, int64_t n, std::vector<double>* out);

// Called after each window with (windows done, total, running result).
using PplProgress = std::function<void(int64_t, int64_t, const PplResult&)>;
// Receives the scored logit rows of each window (rows first_target - 1 ...
// len - 2 of the window, [len - first_target, vocab] in all) a prefill
// chunk at a time: `row` counts from the window's first scored row. E.g.
// LogitsWriter::AddRows.
using LogitsSink =
    std::function<absl::Status(const Window&, int64_t row, absl::Span<const float> logits)>;

// Each window runs from position 0 in `session` (max_context >= ctx); its
// logits are scored a chunk at a time, never held whole.
absl::StatusOr<PplResult> Perplexity(Session& session, absl::Span<const int32_t> tokens,
                                     const PplOptions& opts, const PplProgress& progress = {},
                                     const LogitsSink& sink = {});

struct KldResult {
  int64_t tokens = 0;
  double mean_kld = 0, kld_stderr = 0, kld_p999 = 0, kld_max = 0;
  double top1_agreement = 0;  // fraction of positions with the same argmax
  NllStats ref_nll, model_nll;
  double ppl_ratio() const { return model_nll.ppl() / ref_nll.ppl(); }
  bool ref_non_finite = false, model_non_finite = false;
};

// Accumulates KL(P_ref || P_model) per scored position.
class KldAccumulator {
 public:
  // Rows [n_rows, vocab] of each side; targets: the token each row predicts.
  void Add(const float* ref_logits, const float* model_logits, int64_t n_rows, int64_t vocab,
           const int32_t* targets);
  KldResult Finish() const;

 private:
  std::vector<double> klds_;
  int64_t agree_ = 0;
  KldResult r_;
};

// Called with (windows done, total, accumulator) after each window.
using KldProgress = std::function<void(int64_t, int64_t, const KldAccumulator&)>;

// Both models on the same windows in one pass, in lockstep a prefill chunk
// of `ref` at a time (memory: two chunks' logits).
absl::StatusOr<KldResult> KlDivergence(Session& ref, Session& model,
                                       absl::Span<const int32_t> tokens, const PplOptions& opts,
                                       const KldProgress& progress = {});

}  // namespace glmq
