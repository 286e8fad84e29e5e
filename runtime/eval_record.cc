#include "runtime/eval_record.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "core/file.h"
#include "core/status.h"
#include "core/version.h"

namespace glmq {
namespace {

pb::EvalResult Base(absl::string_view kind, const PplOptions& o, const EvalContext& c,
                    int64_t windows, int64_t tokens) {
  pb::EvalResult e;
  e.set_kind(std::string(kind));
  e.set_text_name(c.text_name);
  e.set_text_xxh64(c.text_xxh64);
  e.set_created_utc(UtcNowRfc3339());
  e.set_protocol(EvalProtocol(o, c, windows, tokens));
  e.set_tool_version(GlmqToolVersion());
  e.set_device(c.device);
  return e;
}

}  // namespace

std::string EvalProtocol(const PplOptions& o, const EvalContext& c, int64_t windows,
                         int64_t tokens) {
  return absl::StrCat("ctx=", o.ctx, " stride=", o.stride, " score=", c.score, " kv=", c.kv,
                      " chunk=", c.chunk, " special=", c.special ? 1 : 0,
                      o.max_windows > 0 ? absl::StrCat(" max_windows=", o.max_windows) : "",
                      " windows=", windows, " tokens=", tokens);
}

pb::EvalResult PplEvalResult(const PplResult& r, const PplOptions& o, const EvalContext& c) {
  pb::EvalResult e = Base("ppl", o, c, r.windows, r.tokens);
  auto& v = *e.mutable_values();
  v["ppl"] = r.nll.ppl();
  v["ppl_stderr"] = r.nll.ppl_stderr();
  v["mean_nll"] = r.nll.mean();
  v["mean_nll_stderr"] = r.nll.stderr_mean();
  v["scored_tokens"] = static_cast<double>(r.nll.count);
  v["non_finite"] = r.non_finite ? 1 : 0;
  return e;
}

pb::EvalResult KldEvalResult(const KldResult& r, const PplOptions& o, const EvalContext& c,
                             const std::string& reference_name, uint64_t reference_xxh64) {
  pb::EvalResult e = Base("kld", o, c, 0, r.tokens);
  e.set_reference_name(reference_name);
  e.set_reference_xxh64(reference_xxh64);
  auto& v = *e.mutable_values();
  v["mean_kld"] = r.mean_kld;
  v["kld_stderr"] = r.kld_stderr;
  v["kld_p99_9"] = r.kld_p999;
  v["kld_max"] = r.kld_max;
  v["top1_agreement"] = r.top1_agreement;
  v["ref_ppl"] = r.ref_nll.ppl();
  v["model_ppl"] = r.model_nll.ppl();
  v["ppl_ratio"] = r.ppl_ratio();
  v["positions"] = static_cast<double>(r.tokens);
  v["non_finite"] = (r.ref_non_finite || r.model_non_finite) ? 1 : 0;
  return e;
}

absl::StatusOr<uint64_t> FileXxh64(const std::string& path) {
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<MappedFile> f, MappedFile::Open(path));
  return f->GuardedXxHash64(0, f->size());
}

}  // namespace glmq
