#include "runtime/eval.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/status.h"

namespace glmq {

double NllStats::stderr_mean() const {
  if (count < 2) return 0;
  const double m = mean();
  const double var = std::max(0.0, (sum_sq - count * m * m) / (count - 1));
  return std::sqrt(var / count);
}

double NllStats::ppl() const { return std::exp(mean()); }

absl::StatusOr<std::vector<Window>> PlanWindows(int64_t n, const PplOptions& o) {
  if (o.ctx < 2) return absl::InvalidArgumentError(absl::StrCat("ctx ", o.ctx, " must be >= 2"));
  if (o.stride < 0 || o.stride > o.ctx) {
    return absl::InvalidArgumentError(absl::StrCat("stride ", o.stride, " must be in [0, ctx]"));
  }
  std::vector<Window> w;
  if (o.stride == 0) {
    const int64_t first = o.score == ScoreMode::kAll ? 1 : o.ctx / 2 + 1;
    for (int64_t b = 0; b + o.ctx <= n; b += o.ctx) w.push_back({b, o.ctx, first});
  } else {
    int64_t prev_end = 0;
    for (int64_t b = 0; b < n; b += o.stride) {
      const int64_t end = std::min(b + o.ctx, n);
      const int64_t len = end - b;
      if (len >= 2) w.push_back({b, len, std::max<int64_t>(1, len - (end - prev_end))});
      prev_end = end;
      if (end == n) break;
    }
  }
  if (o.max_windows > 0 && static_cast<int64_t>(w.size()) > o.max_windows) w.resize(o.max_windows);
  if (w.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(n, " tokens are fewer than one window of ",
                                                   o.ctx));
  }
  return w;
}

void LogSoftmax(const float* x, int64_t n, std::vector<double>* out) {
  out->resize(n);
  double mx = -INFINITY;
  for (int64_t i = 0; i < n; ++i) mx = std::max(mx, static_cast<double>(x[i]));
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += std::exp(x[i] - mx);
  const double lse = mx + std::log(s);
  for (int64_t i = 0; i < n; ++i) (*out)[i] = x[i] - lse;
}

namespace {

bool AllFinite(absl::Span<const float> v) {
  for (float x : v)
    if (!std::isfinite(x)) return false;
  return true;
}

// Runs window w from position 0 and hands its scored rows (first_target - 1
// ... len - 2) to fn a chunk at a time, `row` counted from the first of them.
absl::Status WindowLogits(Session& s, absl::Span<const int32_t> tokens, const Window& w,
                          const std::function<absl::Status(int64_t row, int64_t n,
                                                           const float* logits)>& fn) {
  s.Reset();
  const int64_t vocab = s.model().hparams().padded_vocab_size();
  const int64_t first = w.first_target - 1, last = w.len - 2;  // scored rows
  return s.ForwardLogits(tokens.subspan(w.begin, w.len), first,
                         [&](int64_t row0, absl::Span<const float> l) -> absl::Status {
                           const int64_t n = std::min<int64_t>(l.size() / vocab, last + 1 - row0);
                           if (n <= 0) return absl::OkStatus();
                           return fn(row0 - first, n, l.data());
                         });
}

}  // namespace

absl::StatusOr<PplResult> Perplexity(Session& session, absl::Span<const int32_t> tokens,
                                     const PplOptions& opts, const PplProgress& progress,
                                     const LogitsSink& sink) {
  GLMQ_ASSIGN_OR_RETURN(std::vector<Window> windows, PlanWindows(tokens.size(), opts));
  const int64_t vocab = session.model().hparams().padded_vocab_size();
  PplResult r;
  r.tokens = static_cast<int64_t>(tokens.size());
  std::vector<double> lp;
  for (const Window& w : windows) {
    auto score = [&](int64_t row, int64_t n, const float* logits) -> absl::Status {
      if (!AllFinite({logits, static_cast<size_t>(n * vocab)})) r.non_finite = true;
      for (int64_t i = 0; i < n; ++i) {
        LogSoftmax(logits + i * vocab, vocab, &lp);
        r.nll.Add(-lp[tokens[w.begin + w.first_target + row + i]]);
      }
      if (!sink) return absl::OkStatus();
      return sink(w, row, absl::Span<const float>(logits, n * vocab));
    };
    GLMQ_RETURN_IF_ERROR(WindowLogits(session, tokens, w, score));
    ++r.windows;
    if (progress) progress(r.windows, windows.size(), r);
  }
  return r;
}

void KldAccumulator::Add(const float* ref, const float* model, int64_t n_rows, int64_t vocab,
                         const int32_t* targets) {
  std::vector<double> lr, lm;
  for (int64_t i = 0; i < n_rows; ++i) {
    const float* a = ref + i * vocab;
    const float* b = model + i * vocab;
    if (!AllFinite({a, static_cast<size_t>(vocab)})) r_.ref_non_finite = true;
    if (!AllFinite({b, static_cast<size_t>(vocab)})) r_.model_non_finite = true;
    LogSoftmax(a, vocab, &lr);
    LogSoftmax(b, vocab, &lm);
    double kl = 0;
    for (int64_t v = 0; v < vocab; ++v) kl += std::exp(lr[v]) * (lr[v] - lm[v]);
    klds_.push_back(kl);
    if (std::max_element(a, a + vocab) - a == std::max_element(b, b + vocab) - b) ++agree_;
    r_.ref_nll.Add(-lr[targets[i]]);
    r_.model_nll.Add(-lm[targets[i]]);
  }
}

KldResult KldAccumulator::Finish() const {
  KldResult r = r_;
  r.tokens = static_cast<int64_t>(klds_.size());
  if (klds_.empty()) return r;
  NllStats k;
  for (double x : klds_) k.Add(x);
  r.mean_kld = k.mean();
  r.kld_stderr = k.stderr_mean();
  std::vector<double> sorted = klds_;
  std::sort(sorted.begin(), sorted.end());
  // Nearest-rank 99.9th percentile.
  const size_t idx = std::min(sorted.size() - 1,
                              static_cast<size_t>(std::ceil(0.999 * sorted.size())) - 1);
  r.kld_p999 = sorted[idx];
  r.kld_max = sorted.back();
  r.top1_agreement = static_cast<double>(agree_) / klds_.size();
  return r;
}

absl::StatusOr<KldResult> KlDivergence(Session& ref, Session& model,
                                       absl::Span<const int32_t> tokens, const PplOptions& opts,
                                       const KldProgress& progress) {
  const int64_t vocab = ref.model().hparams().padded_vocab_size();
  if (model.model().hparams().padded_vocab_size() != vocab) {
    return absl::InvalidArgumentError("kld: the two models have different vocabularies");
  }
  GLMQ_ASSIGN_OR_RETURN(std::vector<Window> windows, PlanWindows(tokens.size(), opts));
  KldAccumulator acc;
  int64_t done = 0;
  std::vector<float> a, b;
  for (const Window& w : windows) {
    ref.Reset();
    model.Reset();
    const int64_t step = ref.prefill_chunk();
    for (int64_t c0 = 0; c0 < w.len; c0 += step) {
      const auto part = tokens.subspan(w.begin + c0, std::min(step, w.len - c0));
      GLMQ_RETURN_IF_ERROR(ref.Forward(part, ForwardOutput::kAllLogits, &a));
      GLMQ_RETURN_IF_ERROR(model.Forward(part, ForwardOutput::kAllLogits, &b));
      // Scored rows of this part: window rows [max(c0, first_target - 1), min(end, len - 1)).
      const int64_t r0 = std::max(c0, w.first_target - 1);
      const int64_t r1 = std::min<int64_t>(c0 + part.size(), w.len - 1);
      if (r1 > r0)
        acc.Add(a.data() + (r0 - c0) * vocab, b.data() + (r0 - c0) * vocab, r1 - r0, vocab,
                tokens.data() + w.begin + r0 + 1);
    }
    if (progress) progress(++done, windows.size(), acc);
  }
  return acc.Finish();
}

}  // namespace glmq
