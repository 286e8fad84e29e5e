#include "runtime/buffers.h"

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "runtime/attention_tiling.h"

namespace glmq {

uint64_t BufferSizes::Get(const std::string& name) const {
  for (const NamedBuffer& b : buffers) {
    if (b.name == name) return b.bytes;
  }
  return 0;
}

namespace {

absl::Status CheckPositive(int64_t v, absl::string_view field) {
  if (v <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("buffer sizes: ", field, " is ", v,
                                                   ", must be positive"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<BufferSizes> ComputeBufferSizes(const pb::HParams& hp, const BufferConfig& cfg) {
  GLMQ_RETURN_IF_ERROR(CheckPositive(hp.n_layers(), "hparams.n_layers"));
  GLMQ_RETURN_IF_ERROR(CheckPositive(hp.hidden_size(), "hparams.hidden_size"));
  GLMQ_RETURN_IF_ERROR(CheckPositive(hp.n_heads(), "hparams.n_heads"));
  GLMQ_RETURN_IF_ERROR(CheckPositive(hp.n_kv_heads(), "hparams.n_kv_heads"));
  GLMQ_RETURN_IF_ERROR(CheckPositive(hp.head_dim(), "hparams.head_dim"));
  GLMQ_RETURN_IF_ERROR(CheckPositive(hp.ffn_hidden_size(), "hparams.ffn_hidden_size"));
  GLMQ_RETURN_IF_ERROR(CheckPositive(hp.padded_vocab_size(), "hparams.padded_vocab_size"));
  GLMQ_RETURN_IF_ERROR(CheckPositive(cfg.max_context, "max_context"));
  GLMQ_RETURN_IF_ERROR(CheckPositive(cfg.prefill_chunk, "prefill_chunk"));
  GLMQ_RETURN_IF_ERROR(CheckPositive(cfg.batch, "batch"));
  GLMQ_RETURN_IF_ERROR(CheckPositive(cfg.n_threads, "n_threads"));
  if (hp.n_heads() % hp.n_kv_heads() != 0) {
    return absl::InvalidArgumentError(absl::StrCat("buffer sizes: n_heads ", hp.n_heads(),
                                                   " is not a multiple of n_kv_heads ",
                                                   hp.n_kv_heads()));
  }
  const uint64_t f = sizeof(float);
  const uint64_t tokens = static_cast<uint64_t>(cfg.batch * cfg.prefill_chunk);
  const uint64_t hidden = hp.hidden_size();
  const uint64_t q_dim = hp.n_heads() * hp.head_dim();
  const uint64_t qkv_dim = (hp.n_heads() + 2 * hp.n_kv_heads()) * hp.head_dim();
  const uint64_t ffn = hp.ffn_hidden_size();
  const uint64_t logit_rows = cfg.all_logits ? tokens : static_cast<uint64_t>(cfg.batch);

  BufferSizes s;
  GLMQ_ASSIGN_OR_RETURN(s.kv_layout, MakeKvLayout(hp, cfg.kv_type));
  s.kv_cache_bytes = s.kv_layout.BytesFor(cfg.max_context) * cfg.batch;
  s.buffers.push_back({"kv_cache",
                       absl::StrCat("[batch, ceil(max_context / ", s.kv_layout.block_tokens,
                                    ") blocks, ", s.kv_layout.BlockBytes(),
                                    " bytes] (runtime/kv_layout.h)"),
                       s.kv_cache_bytes});
  auto add = [&](const char* name, const char* shape, uint64_t bytes) {
    s.buffers.push_back({name, shape, bytes});
    s.working_bytes += bytes;
  };
  add("residual", "[batch*chunk, hidden]", tokens * hidden * f);
  add("normed", "[batch*chunk, hidden]", tokens * hidden * f);
  add("qkv", "[batch*chunk, (n_heads+2*n_kv_heads)*head_dim]", tokens * qkv_dim * f);
  add("attn_out", "[batch*chunk, n_heads*head_dim]", tokens * q_dim * f);
  add("proj_out", "[batch*chunk, hidden]", tokens * hidden * f);
  add("ffn_gate_up", "[batch*chunk, 2*ffn]", tokens * 2 * ffn * f);
  add("ffn_act", "[batch*chunk, ffn]", tokens * ffn * f);
  const AttentionTiling tiling{hp.n_heads(), hp.n_kv_heads(), hp.head_dim()};
  add("attn_scratch", "[n_threads, tiles] + [64 splits, n_heads, head_dim + 2] (attention_tiling.h)",
      static_cast<uint64_t>(AttentionScratchFloats(tiling, cfg.n_threads)) * f);
  add("logits", "[logit rows, padded_vocab]", logit_rows * hp.padded_vocab_size() * f);
  return s;
}

}  // namespace glmq
