#include "tools/session_flags.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "plan/memory.h"

namespace glmq::tools {

void AddSessionFlags(CLI::App* sub, SessionFlags* f) {
  sub->add_option("--kv", f->kv, "KV cache type: f32 (default), bf16, int8 (specs/vram.md), f16");
  sub->add_flag("--ctx-override", f->ctx_override,
                "allow a context above the model's maximum (positions it was not configured "
                "for: RoPE simply continues)");
  sub->add_option("--chunk", f->chunk, "prefill chunk in tokens (default 512)");
  sub->add_option("--device", f->device, "where the model runs: cpu (default), cuda or cuda:N");
  sub->add_option("--mem-limit", f->mem_limit,
                  "refuse a context whose KV cache and buffers need more (8G, 512MiB; default: "
                  "the memory available now)");
}

absl::StatusOr<std::unique_ptr<Session>> NewSession(const Model& model, const SessionFlags& f,
                                                    int64_t ctx, const std::string& ctx_flag,
                                                    bool all_logits, int64_t fallback) {
  const pb::HParams& hp = model.hparams();
  absl::StatusOr<KvType> kv = ParseKvType(f.kv);
  if (!kv.ok()) return Annotate(kv.status(), "--kv");
  if (f.chunk <= 0) return absl::InvalidArgumentError(absl::StrCat("--chunk ", f.chunk));
  if (ctx == 0 || !f.ctx_override) {
    absl::StatusOr<int64_t> c = ContextForFlag(hp, ctx, fallback, ctx_flag);
    if (!c.ok() && absl::IsInvalidArgument(c.status()) && ctx > 0)
      return absl::OutOfRangeError(
          absl::StrCat(c.status().message(), ", or --ctx-override to run past it"));
    GLMQ_RETURN_IF_ERROR(c.status());
    ctx = *c;
  }
  if (absl::Status s = CheckContextLimit(hp, ctx, f.ctx_override); !s.ok())
    return absl::OutOfRangeError(
        absl::StrCat(ctx_flag, " ", ctx, ": ", s.message(), " (--ctx-override)"));
  if (hp.max_context() > 0 && ctx > hp.max_context())
    std::fprintf(stderr,
                 "warning: %s %lld is above the model's maximum of %lld positions "
                 "(--ctx-override): positions past it were never configured\n",
                 ctx_flag.c_str(), static_cast<long long>(ctx),
                 static_cast<long long>(hp.max_context()));
  SessionOptions so;
  so.max_context = ctx;
  so.context_override = f.ctx_override;
  so.prefill_chunk = f.chunk;
  so.kv_type = *kv;
  so.all_logits = all_logits;
  if (!f.mem_limit.empty()) {
    absl::StatusOr<uint64_t> limit = plan::ParseByteSize(f.mem_limit);
    if (!limit.ok()) return Annotate(limit.status(), "--mem-limit");
    so.memory_limit = *limit;
  }
  absl::StatusOr<std::unique_ptr<Session>> s = Session::Create(&model, so);
  if (!s.ok() && absl::IsResourceExhausted(s.status()))
    return absl::ResourceExhaustedError(absl::StrCat(
        ctx_flag, " ", ctx, " --kv ", f.kv, ": ", s.status().message(), "; lower ", ctx_flag,
        " or choose a smaller --kv", f.mem_limit.empty() ? "" : " or a larger --mem-limit"));
  return s;
}

}  // namespace glmq::tools
