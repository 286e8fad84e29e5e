#include "runtime/session.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/memory.h"
#include "core/status.h"

namespace glmq {
namespace {

std::string GiB(uint64_t bytes) {
  return absl::StrFormat("%.2f GiB", static_cast<double>(bytes) / (uint64_t{1} << 30));
}

// ResourceExhausted when the KV cache at max_context plus the working
// buffers exceed `limit` (0: no limit), with the cache's size per KV type.
absl::Status CheckMemory(const pb::HParams& hp, const BufferConfig& cfg, const BufferSizes& sizes,
                         uint64_t limit, absl::string_view limit_source) {
  if (limit == 0 || sizes.total_bytes() <= limit) return absl::OkStatus();
  std::string by_type;
  for (const KvTypeTraits& t : AllKvTypeTraits()) {
    absl::StatusOr<KvLayout> l = MakeKvLayout(hp, t.type);
    if (l.ok())
      absl::StrAppend(&by_type, by_type.empty() ? "" : ", ", t.name, " ",
                      GiB(l->BytesFor(cfg.max_context)));
  }
  const KvLayout& l = sizes.kv_layout;
  return absl::ResourceExhaustedError(
      absl::StrCat("a context of ", cfg.max_context, " positions needs ", GiB(sizes.kv_cache_bytes),
                   " of ", Traits(l.type).name, " KV cache (", l.BytesPerToken(),
                   " bytes per position, whole blocks of ", l.block_tokens, ") and ",
                   GiB(sizes.working_bytes), " of working buffers, more than the ", GiB(limit), " ",
                   limit_source, "; the KV cache at this context is ", by_type));
}

// splitmix64: a fast, well-mixed stream for synthetic KV values.
uint64_t NextRandom(uint64_t& s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

absl::Status CheckContextLimit(const pb::HParams& hp, int64_t context, bool override) {
  if (context <= 0)
    return absl::InvalidArgumentError(absl::StrCat("context of ", context, " positions"));
  if (hp.max_context() > 0 && context > hp.max_context() && !override)
    return absl::OutOfRangeError(absl::StrCat(
        "a context of ", context, " positions exceeds the model's maximum of ", hp.max_context(),
        " (hparams.max_context, from its config); it runs only with the context override"));
  return absl::OkStatus();
}

absl::StatusOr<int64_t> ContextForFlag(const pb::HParams& hp, int64_t requested,
                                       int64_t fallback, absl::string_view flag) {
  const int64_t limit = hp.max_context();
  if (requested < 0) {
    return absl::InvalidArgumentError(absl::StrCat(flag, " ", requested, ": must be positive"));
  }
  if (requested == 0) return limit > 0 ? std::min(fallback, limit) : fallback;
  if (limit > 0 && requested > limit) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " ", requested, " is more than the model's context of ", limit,
                     " tokens (hparams.max_context, from its config); use ", flag, " ", limit,
                     " or less"));
  }
  return requested;
}

absl::StatusOr<std::unique_ptr<Session>> Session::Create(const Model* model,
                                                         const SessionOptions& options) {
  const pb::HParams& hp = model->hparams();
  GLMQ_RETURN_IF_ERROR(CheckContextLimit(hp, options.max_context, options.context_override));
  std::unique_ptr<Session> s(new Session());
  s->model_ = model;
  s->observer_ = options.observer;
  s->config_.max_context = options.max_context;
  s->config_.prefill_chunk = std::min(options.prefill_chunk, options.max_context);
  s->config_.batch = 1;
  s->config_.kv_type = options.kv_type;
  s->config_.n_threads = model->backend().n_threads();
  s->config_.all_logits = options.all_logits;
  GLMQ_ASSIGN_OR_RETURN(s->sizes_, ComputeBufferSizes(hp, s->config_));
  const uint64_t limit =
      options.memory_limit > 0 ? options.memory_limit : model->backend().AvailableMemoryBytes();
  GLMQ_RETURN_IF_ERROR(CheckMemory(hp, s->config_, s->sizes_, limit,
                                   options.memory_limit > 0 ? "allowed" : "available"));
  // Every allocation below is sized from sizes_, so the planner's report
  // (same function) is exactly what we hold; the KV cache grows in blocks.
  s->kv_ = std::make_unique<KvCache>(&model->backend(), s->sizes_.kv_layout);
  Backend* be = &model->backend();
  if (s->observer_ != nullptr && !be->host_memory()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "an activation observer (calibration) needs the CPU backend, not ", be->name()));
  }
  auto floats = [&](const char* name, BackendFloats* v) -> absl::Status {
    GLMQ_ASSIGN_OR_RETURN(*v, BackendFloats::Allocate(be, s->sizes_.Get(name) / sizeof(float)));
    return absl::OkStatus();
  };
  GLMQ_RETURN_IF_ERROR(floats("residual", &s->residual_));
  GLMQ_RETURN_IF_ERROR(floats("normed", &s->normed_));
  GLMQ_RETURN_IF_ERROR(floats("qkv", &s->qkv_));
  GLMQ_RETURN_IF_ERROR(floats("attn_out", &s->attn_out_));
  GLMQ_RETURN_IF_ERROR(floats("proj_out", &s->proj_));
  GLMQ_RETURN_IF_ERROR(floats("ffn_gate_up", &s->gate_up_));
  GLMQ_RETURN_IF_ERROR(floats("ffn_act", &s->ffn_act_));
  GLMQ_RETURN_IF_ERROR(floats("attn_scratch", &s->attn_scratch_));
  GLMQ_RETURN_IF_ERROR(floats("logits", &s->logits_));
  return s;
}

absl::StatusOr<const float*> Session::HostRows(const float* src, int64_t count) {
  Backend& be = model_->backend();
  if (be.host_memory()) return src;
  host_rows_.resize(count);
  GLMQ_RETURN_IF_ERROR(be.CopyToHost(src, count, host_rows_.data()));
  return static_cast<const float*>(host_rows_.data());
}

absl::Status Session::CheckTokens(absl::Span<const int32_t> tokens) const {
  const pb::HParams& hp = model_->hparams();
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (pos_ + n > config_.max_context) {
    return absl::OutOfRangeError(absl::StrCat("context overflow: ", pos_, " + ", n,
                                              " tokens > max_context ", config_.max_context));
  }
  for (int64_t t = 0; t < n; ++t) {
    if (tokens[t] < 0 || tokens[t] >= hp.padded_vocab_size()) {
      return absl::OutOfRangeError(absl::StrCat("token id ", tokens[t], " at ", t,
                                                " is outside [0, ", hp.padded_vocab_size(), ")"));
    }
  }
  return kv_->Reserve(pos_ + n);
}

absl::Status Session::Forward(absl::Span<const int32_t> tokens, ForwardOutput what,
                              std::vector<float>* out) {
  GLMQ_RETURN_IF_ERROR(CheckTokens(tokens));
  return ForwardRows(tokens.data(), static_cast<int64_t>(tokens.size()), nullptr, what, out);
}

absl::Status Session::ForwardSpliced(const SplicedSequence& seq, ForwardOutput what,
                                     std::vector<float>* out) {
  const pb::HParams& hp = model_->hparams();
  const int64_t n = seq.size(), hidden = hp.hidden_size();
  if (pos_ != 0) return absl::FailedPreconditionError("a spliced sequence needs an empty session");
  if (n > config_.max_context) {
    return absl::OutOfRangeError(
        absl::StrCat("context overflow: ", n, " rows > max_context ", config_.max_context));
  }
  const int64_t image_rows = static_cast<int64_t>(seq.embeds.size()) / hidden;
  bool ok = static_cast<int64_t>(seq.image_row.size()) == n &&
            static_cast<int64_t>(seq.positions.size()) == 3 * n &&
            static_cast<int64_t>(seq.embeds.size()) == image_rows * hidden;
  for (int64_t t = 0; ok && t < n; ++t) {
    ok = seq.ids[t] >= 0 && seq.ids[t] < hp.padded_vocab_size() && seq.image_row[t] < image_rows;
  }
  if (!ok) return absl::InvalidArgumentError("spliced sequence: rows, ids or positions do not fit");
  GLMQ_RETURN_IF_ERROR(kv_->Reserve(n));
  GLMQ_RETURN_IF_ERROR(ForwardRows(seq.ids.data(), n, &seq, what, out));
  rope_offset_ = seq.rope_offset;
  return absl::OkStatus();
}

void Session::ChunkPositions(const SplicedSequence* seq, int64_t row0, int64_t n) {
  use_positions_ = seq != nullptr || rope_offset_ != 0;
  if (!use_positions_) return;
  chunk_positions_.resize(3 * n);
  for (int k = 0; k < 3; ++k) {
    for (int64_t t = 0; t < n; ++t) {
      chunk_positions_[k * n + t] =
          seq ? seq->positions[k * seq->size() + row0 + t] : pos_ + t + rope_offset_;
    }
  }
}

absl::Status Session::RunChunks(const int32_t* ids, int64_t n, const SplicedSequence* seq,
                                const ChunkFn& after) {
  Backend& be = model_->backend();
  const int64_t hidden = model_->hparams().hidden_size();
  for (int64_t c0 = 0; c0 < n; c0 += config_.prefill_chunk) {
    const int64_t m = std::min(config_.prefill_chunk, n - c0);
    ChunkPositions(seq, c0, m);
    GLMQ_RETURN_IF_ERROR(be.Embedding(model_->token_embd(), ids + c0, m, residual_.data()));
    for (int64_t t = 0; seq != nullptr && t < m; ++t) {
      const int64_t r = seq->image_row[c0 + t];
      if (r >= 0)
        GLMQ_RETURN_IF_ERROR(
            be.CopyFromHost(seq->embeds.data() + r * hidden, hidden, residual_.data() + t * hidden));
    }
    GLMQ_RETURN_IF_ERROR(ForwardChunk(m));
    if (observer_) observer_->Observe(-1, LinearInput::kOutput, normed_.data(), m, hidden);
    GLMQ_RETURN_IF_ERROR(after(c0, m));
  }
  use_positions_ = false;
  return absl::OkStatus();
}

absl::Status Session::ProjectRows(int64_t c0, int64_t first, int64_t m, const LogitsFn& fn) {
  const int64_t vocab = model_->hparams().padded_vocab_size();
  const int64_t hidden = model_->hparams().hidden_size();
  const int64_t cap = static_cast<int64_t>(logits_.size()) / vocab;  // rows per projection
  for (int64_t r = first; r < m; r += cap) {
    const int64_t rows = std::min(cap, m - r);
    GLMQ_RETURN_IF_ERROR(model_->backend().MatMul(model_->output(), normed_.data() + r * hidden,
                                                  rows, logits_.data()));
    GLMQ_ASSIGN_OR_RETURN(const float* l, HostRows(logits_.data(), rows * vocab));
    GLMQ_RETURN_IF_ERROR(fn(c0 + r, absl::Span<const float>(l, rows * vocab)));
  }
  return absl::OkStatus();
}

absl::Status Session::ForwardRows(const int32_t* ids, int64_t n, const SplicedSequence* seq,
                                  ForwardOutput what, std::vector<float>* out) {
  if (out != nullptr) out->clear();
  const int64_t vocab = model_->hparams().padded_vocab_size();
  const int64_t hidden = model_->hparams().hidden_size();
  const LogitsFn append = [out](int64_t, absl::Span<const float> rows) {
    out->insert(out->end(), rows.begin(), rows.end());
    return absl::OkStatus();
  };
  return RunChunks(ids, n, seq, [&](int64_t c0, int64_t m) -> absl::Status {
    if (out == nullptr || what == ForwardOutput::kNone) return absl::OkStatus();
    if (what == ForwardOutput::kAllHidden) {
      GLMQ_ASSIGN_OR_RETURN(const float* h, HostRows(normed_.data(), m * hidden));
      out->insert(out->end(), h, h + m * hidden);
    } else if (what == ForwardOutput::kAllLogits) {
      return ProjectRows(c0, 0, m, append);
    } else if (c0 + m == n) {  // kLastLogits
      GLMQ_RETURN_IF_ERROR(model_->backend().MatMul(
          model_->output(), normed_.data() + (m - 1) * hidden, 1, logits_.data()));
      GLMQ_ASSIGN_OR_RETURN(const float* l, HostRows(logits_.data(), vocab));
      out->assign(l, l + vocab);
    }
    return absl::OkStatus();
  });
}

absl::Status Session::ForwardLogits(absl::Span<const int32_t> tokens, int64_t first_row,
                                    const LogitsFn& fn) {
  GLMQ_RETURN_IF_ERROR(CheckTokens(tokens));
  return RunChunks(tokens.data(), static_cast<int64_t>(tokens.size()), nullptr,
                   [&](int64_t c0, int64_t m) {
                     return ProjectRows(c0, std::max<int64_t>(first_row - c0, 0), m, fn);
                   });
}

absl::Status Session::ForwardLayers(absl::Span<const int32_t> tokens, int first, int end,
                                    std::vector<float>* hidden) {
  const pb::HParams& hp = model_->hparams();
  const int64_t n = static_cast<int64_t>(tokens.size()), width = hp.hidden_size();
  const int n_layers = static_cast<int>(hp.n_layers());
  if (pos_ != 0 || n <= 0 || n > config_.prefill_chunk || n > config_.max_context)
    return absl::FailedPreconditionError(
        absl::StrCat("ForwardLayers needs one chunk at position 0 (position ", pos_, ", ", n,
                     " tokens, prefill_chunk ", config_.prefill_chunk, ")"));
  if (first < 0 || first >= end || end > n_layers)
    return absl::InvalidArgumentError(
        absl::StrCat("layers [", first, ", ", end, ") outside [0, ", n_layers, ")"));
  Backend& be = model_->backend();
  if (first == 0) {
    GLMQ_RETURN_IF_ERROR(CheckTokens(tokens));
    GLMQ_RETURN_IF_ERROR(be.Embedding(model_->token_embd(), tokens.data(), n, residual_.data()));
  } else {
    if (static_cast<int64_t>(hidden->size()) != n * width)
      return absl::InvalidArgumentError(
          absl::StrCat("hidden state of ", hidden->size(), " values, expected ", n * width));
    GLMQ_RETURN_IF_ERROR(kv_->Reserve(n));
    GLMQ_RETURN_IF_ERROR(be.CopyFromHost(hidden->data(), n * width, residual_.data()));
  }
  for (int i = first; i < end; ++i) GLMQ_RETURN_IF_ERROR(Layer(i, n));
  hidden->resize(n * width);
  GLMQ_RETURN_IF_ERROR(be.CopyToHost(residual_.data(), n * width, hidden->data()));
  if (end == n_layers) {
    be.RmsNorm(residual_.data(), model_->output_norm().data(), n, width,
               static_cast<float>(hp.norm_eps()), normed_.data());
    if (observer_) observer_->Observe(-1, LinearInput::kOutput, normed_.data(), n, width);
  }
  return absl::OkStatus();
}

absl::Status Session::AppendSyntheticKv(int64_t n, uint64_t seed) {
  const pb::HParams& hp = model_->hparams();
  if (n < 0 || pos_ + n > config_.max_context)
    return absl::OutOfRangeError(absl::StrCat("context overflow: ", pos_, " + ", n,
                                              " positions > max_context ", config_.max_context));
  GLMQ_RETURN_IF_ERROR(kv_->Reserve(pos_ + n));
  const AttentionShape shape{hp.n_heads(), hp.n_kv_heads(), hp.head_dim()};
  const int64_t kv_dim = shape.n_kv_heads * shape.head_dim;
  for (int64_t c0 = 0; c0 < n; c0 += config_.prefill_chunk) {
    const int64_t m = std::min(config_.prefill_chunk, n - c0);
    for (int64_t i = 0; i < hp.n_layers(); ++i) {
      // K rows then V rows, [m, kv_dim] each, in the qkv buffer.
      host_rows_.resize(2 * m * kv_dim);
      for (int64_t j = 0; j < 2 * m * kv_dim; ++j)
        host_rows_[j] = static_cast<float>(NextRandom(seed) >> 40) * 0x1p-23f - 1.0f;
      GLMQ_RETURN_IF_ERROR(
          model_->backend().CopyFromHost(host_rows_.data(), 2 * m * kv_dim, qkv_.data()));
      model_->backend().WriteKv(qkv_.data(), qkv_.data() + m * kv_dim, kv_dim, m, shape, pos_,
                                kv_->View(i));
    }
    pos_ += m;
  }
  return model_->backend().Sync();
}

absl::Status Session::ForwardChunk(int64_t n) {
  const pb::HParams& hp = model_->hparams();
  Backend& be = model_->backend();
  for (int i = 0; i < hp.n_layers(); ++i) GLMQ_RETURN_IF_ERROR(Layer(i, n));
  be.RmsNorm(residual_.data(), model_->output_norm().data(), n, hp.hidden_size(),
             static_cast<float>(hp.norm_eps()), normed_.data());
  GLMQ_RETURN_IF_ERROR(be.Sync());  // a device backend's errors of the chunk
  pos_ += n;
  return absl::OkStatus();
}

absl::Status Session::Layer(int i, int64_t n) {
  const pb::HParams& hp = model_->hparams();
  const LayerWeights& l = model_->layers()[i];
  Backend& be = model_->backend();
  const int64_t hidden = hp.hidden_size(), ffn = hp.ffn_hidden_size();
  const AttentionShape shape{hp.n_heads(), hp.n_kv_heads(), hp.head_dim()};
  const int64_t q_dim = shape.n_heads * shape.head_dim, kv_dim = shape.n_kv_heads * shape.head_dim;
  const int64_t qkv_dim = q_dim + 2 * kv_dim;
  const float eps = static_cast<float>(hp.norm_eps());
  float* x = residual_.data();

  // Attention block.
  be.RmsNorm(x, l.attn_norm.data(), n, hidden, eps, normed_.data());
  if (observer_) observer_->Observe(i, LinearInput::kAttnQkv, normed_.data(), n, hidden);
  GLMQ_RETURN_IF_ERROR(be.MatMul(l.attn_qkv, normed_.data(), n, qkv_.data()));
  if (!l.attn_qkv_bias.empty()) be.AddBias(qkv_.data(), l.attn_qkv_bias.data(), n, qkv_dim);
  float* q = qkv_.data();
  float* k = q + q_dim;
  float* v = k + kv_dim;
  if (use_positions_) {
    const absl::Span<const int64_t> sections(hp.mrope_section().data(), hp.mrope_section_size());
    for (auto [x, heads] : {std::pair{q, shape.n_heads}, std::pair{k, shape.n_kv_heads}}) {
      be.RopePositions(x, qkv_dim, n, heads, shape.head_dim, hp.rope_dims(),
                       chunk_positions_.data(), sections, hp.rope_base());
    }
  } else {
    be.Rope(q, qkv_dim, n, shape.n_heads, shape.head_dim, hp.rope_dims(), pos_, hp.rope_base());
    be.Rope(k, qkv_dim, n, shape.n_kv_heads, shape.head_dim, hp.rope_dims(), pos_, hp.rope_base());
  }
  const KvCacheView cache = kv_->View(i);
  be.WriteKv(k, v, qkv_dim, n, shape, pos_, cache);
  be.Attention(q, qkv_dim, n, shape, pos_, cache, attn_scratch_.data(), attn_out_.data());
  if (observer_) observer_->Observe(i, LinearInput::kAttnOutput, attn_out_.data(), n, q_dim);
  GLMQ_RETURN_IF_ERROR(be.MatMul(l.attn_output, attn_out_.data(), n, proj_.data()));
  if (!l.attn_output_bias.empty()) be.AddBias(proj_.data(), l.attn_output_bias.data(), n, hidden);
  if (!l.post_attn_norm.empty()) {
    be.RmsNorm(proj_.data(), l.post_attn_norm.data(), n, hidden, eps, proj_.data());
  }
  be.Add(x, proj_.data(), n * hidden);

  // MLP block.
  be.RmsNorm(x, l.ffn_norm.data(), n, hidden, eps, normed_.data());
  if (observer_) observer_->Observe(i, LinearInput::kFfnGateUp, normed_.data(), n, hidden);
  GLMQ_RETURN_IF_ERROR(be.MatMul(l.ffn_gate_up, normed_.data(), n, gate_up_.data()));
  if (!l.ffn_gate_up_bias.empty())
    be.AddBias(gate_up_.data(), l.ffn_gate_up_bias.data(), n, 2 * ffn);
  be.SwiGlu(gate_up_.data(), n, ffn, ffn_act_.data());
  if (observer_) observer_->Observe(i, LinearInput::kFfnDown, ffn_act_.data(), n, ffn);
  GLMQ_RETURN_IF_ERROR(be.MatMul(l.ffn_down, ffn_act_.data(), n, proj_.data()));
  if (!l.ffn_down_bias.empty()) be.AddBias(proj_.data(), l.ffn_down_bias.data(), n, hidden);
  if (!l.post_ffn_norm.empty()) {
    be.RmsNorm(proj_.data(), l.post_ffn_norm.data(), n, hidden, eps, proj_.data());
  }
  be.Add(x, proj_.data(), n * hidden);
  return absl::OkStatus();
}

}  // namespace glmq
