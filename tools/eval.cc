// glmq eval ppl | kld: perplexity of a .glmq on a text file, and KL
// divergence of a model against a reference (live or saved logits).
// Library: runtime/eval.h; logits file format: runtime/logits_file.h.
#include <cstdio>
#include <string>

#include "absl/strings/str_format.h"
#include "core/checksum.h"
#include "core/file.h"
#include "core/json.h"
#include "core/status.h"
#include "format/reader.h"
#include "format/record.h"
#include "runtime/eval.h"
#include "runtime/eval_record.h"
#include "runtime/loaded_model.h"
#include "runtime/logits_file.h"
#include "tools/command.h"
#include "tools/session_flags.h"

namespace glmq::tools {
namespace {

struct EvalArgs {
  std::string model, ref, text, save_logits, ref_logits, score = "all", tokenizer;
  std::string ref_kv;  // kld --ref: the reference's KV type (default: --kv)
  std::string ref_device;  // kld --ref: where the reference runs (default: --device)
  int64_t ctx = 256, stride = 0, max_windows = 0;
  int threads = 0;
  bool json = false, special = false, no_verify = false, record = false;
  SessionFlags session;
};

absl::StatusOr<PplOptions> Options(const EvalArgs& a) {
  PplOptions o;
  o.ctx = a.ctx;
  o.stride = a.stride;
  o.max_windows = a.max_windows;
  if (a.score == "all") o.score = ScoreMode::kAll;
  else if (a.score == "second-half") o.score = ScoreMode::kSecondHalf;
  else return absl::InvalidArgumentError("--score must be 'all' or 'second-half'");
  if (o.stride > 0 && o.score != ScoreMode::kAll) {
    return absl::InvalidArgumentError("--stride and --score second-half cannot be combined");
  }
  return o;
}

absl::StatusOr<LoadedModel> LoadModel(const EvalArgs& a, const std::string& path,
                                      const std::string& device) {
  GLMQ_ASSIGN_OR_RETURN(const DeviceSpec d, ParseDevice(device));
  return LoadGlmqModel(path, a.threads, a.tokenizer, d, !a.no_verify);
}

EvalContext Context(const EvalArgs& a, const std::string& text, const LoadedModel& lm) {
  EvalContext c;
  c.text_name = a.text;
  c.text_xxh64 = XxHash64(text);
  c.score = a.score;
  c.kv = a.session.kv;
  c.chunk = a.session.chunk;
  c.device = lm.model->backend().name();
  c.special = a.special;
  return c;
}

// --record: the result goes into the model's file (format/record.h).
absl::Status Record(const EvalArgs& a, const pb::EvalResult& e) {
  GLMQ_ASSIGN_OR_RETURN(RewriteReport r, RecordEval(a.model, e));
  std::fprintf(stderr, "recorded %s result in %s: %s\n", e.kind().c_str(), a.model.c_str(),
               r.Describe().c_str());
  return absl::OkStatus();
}

absl::Status RunPpl(const EvalArgs& a) {
  GLMQ_ASSIGN_OR_RETURN(PplOptions opt, Options(a));
  GLMQ_ASSIGN_OR_RETURN(LoadedModel lm, LoadModel(a, a.model, a.session.device));
  GLMQ_ASSIGN_OR_RETURN(std::string text, ReadFileToString(a.text, InputKind::kText));
  const std::vector<int32_t> tokens = lm.tokenizer->Encode(text, a.special);
  GLMQ_ASSIGN_OR_RETURN(std::vector<Window> windows, PlanWindows(tokens.size(), opt));
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<Session> s,
                        NewSession(*lm.model, a.session, opt.ctx, "--ctx"));
  std::unique_ptr<LogitsWriter> writer;
  if (!a.save_logits.empty()) {
    LogitsHeader h;
    h.score = opt.score;
    h.vocab = lm.model->hparams().padded_vocab_size();
    h.ctx = opt.ctx;
    h.stride = opt.stride;
    h.n_windows = windows.size();
    h.n_tokens = tokens.size();
    h.tokens_xxh64 = TokensXxh64(tokens);
    GLMQ_ASSIGN_OR_RETURN(writer, LogitsWriter::Create(a.save_logits, h));
  }
  auto progress = [&](int64_t done, int64_t total, const PplResult& r) {
    std::fprintf(stderr, "[%lld/%lld] ppl %.4f +/- %.4f\n", static_cast<long long>(done),
                 static_cast<long long>(total), r.nll.ppl(), r.nll.ppl_stderr());
  };
  LogitsSink sink;
  if (writer) {
    sink = [&](const Window& w, int64_t row, absl::Span<const float> l) {
      if (row == 0) GLMQ_RETURN_IF_ERROR(writer->BeginWindow(w));
      return writer->AddRows(row, l);
    };
  }
  GLMQ_ASSIGN_OR_RETURN(PplResult r, Perplexity(*s, tokens, opt, progress, sink));
  if (writer) GLMQ_RETURN_IF_ERROR(writer->Finish());
  if (a.record) GLMQ_RETURN_IF_ERROR(Record(a, PplEvalResult(r, opt, Context(a, text, lm))));
  if (a.json) {
    Json j = {{"model", a.model}, {"text", a.text}, {"tokens", r.tokens},
              {"windows", r.windows}, {"scored_tokens", r.nll.count}, {"ctx", opt.ctx},
              {"stride", opt.stride}, {"score", a.score}, {"mean_nll", r.nll.mean()},
              {"mean_nll_stderr", r.nll.stderr_mean()}, {"ppl", r.nll.ppl()},
              {"ppl_stderr", r.nll.ppl_stderr()}, {"non_finite", r.non_finite},
              {"kv", a.session.kv}, {"kv_cache_bytes", s->kv_cache().allocated_bytes()}};
    std::printf("%s\n", j.dump(1).c_str());
  } else {
    std::printf("PPL = %.4f +/- %.4f  (mean NLL %.6f +/- %.6f; %lld scored of %lld tokens, "
                "%lld windows of %lld)%s\n",
                r.nll.ppl(), r.nll.ppl_stderr(), r.nll.mean(), r.nll.stderr_mean(),
                static_cast<long long>(r.nll.count), static_cast<long long>(r.tokens),
                static_cast<long long>(r.windows), static_cast<long long>(opt.ctx),
                r.non_finite ? "  WARNING: NaN/Inf logits" : "");
  }
  return absl::OkStatus();
}

void PrintKld(const EvalArgs& a, const KldResult& r) {
  if (a.json) {
    Json j = {{"model", a.model}, {"ref", a.ref.empty() ? a.ref_logits : a.ref},
              {"tokens", r.tokens}, {"mean_kld", r.mean_kld}, {"kld_stderr", r.kld_stderr},
              {"kld_p99_9", r.kld_p999}, {"kld_max", r.kld_max},
              {"top1_agreement", r.top1_agreement}, {"ref_ppl", r.ref_nll.ppl()},
              {"model_ppl", r.model_nll.ppl()}, {"ppl_ratio", r.ppl_ratio()},
              {"ref_non_finite", r.ref_non_finite}, {"model_non_finite", r.model_non_finite}};
    std::printf("%s\n", j.dump(1).c_str());
    return;
  }
  std::printf("KLD mean %.6f +/- %.6f, p99.9 %.6f, max %.6f over %lld positions\n", r.mean_kld,
              r.kld_stderr, r.kld_p999, r.kld_max, static_cast<long long>(r.tokens));
  std::printf("top-1 agreement %.4f%%; PPL ref %.4f, model %.4f, ratio %.6f%s%s\n",
              100 * r.top1_agreement, r.ref_nll.ppl(), r.model_nll.ppl(), r.ppl_ratio(),
              r.ref_non_finite ? "  WARNING: NaN/Inf in ref logits" : "",
              r.model_non_finite ? "  WARNING: NaN/Inf in model logits" : "");
}

absl::Status RunKld(const EvalArgs& a) {
  if (a.ref.empty() == a.ref_logits.empty()) {
    return absl::InvalidArgumentError("give exactly one of --ref and --ref-logits");
  }
  GLMQ_ASSIGN_OR_RETURN(PplOptions opt, Options(a));
  GLMQ_ASSIGN_OR_RETURN(LoadedModel lm, LoadModel(a, a.model, a.session.device));
  GLMQ_ASSIGN_OR_RETURN(std::string text, ReadFileToString(a.text, InputKind::kText));
  const std::vector<int32_t> tokens = lm.tokenizer->Encode(text, a.special);
  auto progress = [](int64_t done, int64_t total, const KldAccumulator& acc) {
    const KldResult r = acc.Finish();
    std::fprintf(stderr, "[%lld/%lld] kld %.6f top1 %.4f\n", static_cast<long long>(done),
                 static_cast<long long>(total), r.mean_kld, r.top1_agreement);
  };
  if (!a.ref.empty()) {
    GLMQ_ASSIGN_OR_RETURN(LoadedModel ref, LoadModel(a, a.ref, a.ref_device.empty() ? a.session.device : a.ref_device));
    SessionFlags ref_flags = a.session;
    if (!a.ref_kv.empty()) ref_flags.kv = a.ref_kv;
    GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<Session> rs,
                          NewSession(*ref.model, ref_flags, opt.ctx, "--ctx"));
    GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<Session> ms,
                          NewSession(*lm.model, a.session, opt.ctx, "--ctx"));
    GLMQ_ASSIGN_OR_RETURN(KldResult r, KlDivergence(*rs, *ms, tokens, opt, progress));
    PrintKld(a, r);
    if (!a.record) return absl::OkStatus();
    return Record(a, KldEvalResult(r, opt, Context(a, text, lm), a.ref,
                                   ref.file->metadata_xxh64()));
  }
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<LogitsReader> reader, LogitsReader::Open(a.ref_logits));
  const LogitsHeader& h = reader->header();
  const int64_t vocab = lm.model->hparams().padded_vocab_size();
  if (h.tokens_xxh64 != TokensXxh64(tokens) || h.n_tokens != tokens.size()) {
    return absl::InvalidArgumentError(a.ref_logits + ": saved for a different text or tokenizer");
  }
  if (h.vocab != static_cast<uint64_t>(vocab)) {
    return absl::InvalidArgumentError(a.ref_logits + ": vocabulary size differs from the model's");
  }
  opt.ctx = h.ctx;
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<Session> ms,
                        NewSession(*lm.model, a.session, opt.ctx, "the saved --ctx"));
  KldAccumulator acc;
  int64_t done = 0;
  for (const LogitsReader::Record& rec : reader->records()) {
    const Window& w = rec.window;
    const int64_t first = w.first_target - 1, n_rows = w.len - w.first_target;
    ms->Reset();
    GLMQ_RETURN_IF_ERROR(ms->ForwardLogits(
        absl::Span<const int32_t>(tokens).subspan(w.begin, w.len), first,
        [&](int64_t row0, absl::Span<const float> l) {
          const int64_t r = row0 - first;
          const int64_t n = std::min<int64_t>(l.size() / vocab, n_rows - r);
          if (n <= 0) return absl::OkStatus();
          GLMQ_RETURN_IF_ERROR(acc.Add(rec.logits + r * vocab, l.data(), n, vocab,
                                       tokens.data() + w.begin + w.first_target + r));
          reader->Release(rec, r, n);
          return absl::OkStatus();
        }));
    progress(++done, reader->records().size(), acc);
  }
  const KldResult r = acc.Finish();
  PrintKld(a, r);
  if (!a.record) return absl::OkStatus();
  GLMQ_ASSIGN_OR_RETURN(const uint64_t ref_xxh64, FileXxh64(a.ref_logits));
  return Record(a, KldEvalResult(r, opt, Context(a, text, lm), a.ref_logits, ref_xxh64));
}

void CommonOptions(CLI::App* c, EvalArgs* a) {
  c->add_option("--text", a->text, "text file (UTF-8), tokenized as one string")->required();
  c->add_option("--ctx", a->ctx, "window length in tokens (default 256)");
  c->add_option("--stride", a->stride, "HF-style sliding windows with this stride");
  c->add_option("--score", a->score,
                "all: every token but each window's first (fixtures' protocol, default); "
                "second-half: llama-perplexity");
  c->add_option("--max-windows", a->max_windows, "stop after N windows");
  c->add_option("-t,--threads", a->threads, "threads (default: all)");
  AddSessionFlags(c, &a->session);
  c->add_flag("--json", a->json, "print the result as JSON");
  c->add_flag("--special", a->special,
              "special-token strings in the text become special tokens (default: plain text)");
  c->add_option("--tokenizer", a->tokenizer,
                "tokenizer instead of the embedded one: HF folder, tokenizer.model, "
                "tokenizer.json or .glmq");
  c->add_flag("--record", a->record,
              "store the result (with the text's and reference's checksums, the protocol, "
              "glmq version and device) in the model's .glmq metadata");
  c->add_flag("--no-verify", a->no_verify,
              "skip the checksums of the model's tensors at load (they catch a corrupted file)");
}

RunFn Setup(CLI::App* sub) {
  auto a = std::make_shared<EvalArgs>();
  sub->require_subcommand(1);
  CLI::App* ppl = sub->add_subcommand("ppl", "perplexity of MODEL on --text");
  ppl->add_option("model", a->model, "model .glmq")->required();
  ppl->add_option("--save-logits", a->save_logits, "save the scored logits (for kld --ref-logits)");
  CommonOptions(ppl, a.get());
  CLI::App* kld = sub->add_subcommand("kld", "KL divergence of --model against a reference");
  kld->add_option("--model", a->model, "model .glmq")->required();
  kld->add_option("--ref", a->ref, "reference .glmq (both run in one pass)");
  kld->add_option("--ref-logits", a->ref_logits, "logits saved by eval ppl --save-logits");
  kld->add_option("--ref-device", a->ref_device,
                  "where --ref runs: cpu, cuda or cuda:N (default: --device)");
  kld->add_option("--ref-kv", a->ref_kv, "KV cache type of the --ref model (default: --kv)");
  CommonOptions(kld, a.get());
  return [a, ppl]() { return ppl->parsed() ? RunPpl(*a) : RunKld(*a); };
}

GLMQ_COMMAND(eval, "eval", "evaluate a model: perplexity (ppl) or KL divergence (kld)", Setup);

}  // namespace
}  // namespace glmq::tools
