#include "runtime/model.h"

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "schema/encodings.h"
#include "runtime/cpu/cpu_backend.h"

namespace glmq {
namespace {

std::string ShapeStr(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) absl::StrAppend(&out, i ? ", " : "", s[i]);
  return out + "]";
}

absl::Status CheckShape(const std::string& name, const StoredTensor& t,
                        const std::vector<int64_t>& want) {
  if (t.shape != want) {
    return absl::InvalidArgumentError(absl::StrCat("tensor '", name, "' has shape ",
                                                   ShapeStr(t.shape), ", expected ",
                                                   ShapeStr(want)));
  }
  return absl::OkStatus();
}

absl::StatusOr<WeightView> LoadMatrix(const WeightSource& src, const std::string& name,
                                      int64_t rows, int64_t cols) {
  GLMQ_ASSIGN_OR_RETURN(StoredTensor t, src.Find(name));
  GLMQ_RETURN_IF_ERROR(CheckShape(name, t, {rows, cols}));
  return WeightView{t.encoding, t.group_size, rows, cols, t.data, t.size};
}

// A vector converted to f32; `optional`: absent gives an empty vector.
absl::StatusOr<std::vector<float>> LoadVector(const WeightSource& src, const std::string& name,
                                              int64_t n, bool optional = false) {
  absl::StatusOr<StoredTensor> t = src.Find(name);
  if (!t.ok()) {
    if (optional && absl::IsNotFound(t.status())) return std::vector<float>();
    return t.status();
  }
  GLMQ_RETURN_IF_ERROR(CheckShape(name, *t, {n}));
  DType dt;
  if (!DenseDType(t->encoding, &dt) || t->size != static_cast<uint64_t>(n) * DTypeSize(dt)) {
    return absl::InvalidArgumentError(absl::StrCat("tensor '", name,
                                                   "': vectors must be f32, f16 or bf16 of ", n,
                                                   " values"));
  }
  std::vector<float> v(n);
  ConvertToF32(dt, t->data, v.data(), n);
  return v;
}

absl::Status CheckHParams(const pb::HParams& hp) {
  auto bad = [](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("hparams: ", what));
  };
  if (hp.n_layers() <= 0 || hp.hidden_size() <= 0 || hp.n_heads() <= 0 || hp.n_kv_heads() <= 0 ||
      hp.head_dim() <= 0 || hp.ffn_hidden_size() <= 0 || hp.padded_vocab_size() <= 0) {
    return bad("n_layers, hidden_size, n_heads, n_kv_heads, head_dim, ffn_hidden_size and "
               "padded_vocab_size must be positive");
  }
  if (hp.n_heads() % hp.n_kv_heads() != 0) return bad("n_heads is not a multiple of n_kv_heads");
  if (hp.rope_dims() < 0 || hp.rope_dims() > hp.head_dim() || hp.rope_dims() % 2 != 0) {
    return bad(absl::StrCat("rope_dims ", hp.rope_dims(), " must be even and <= head_dim"));
  }
  if (hp.rope_dims() > 0 && !hp.rope_interleaved()) {
    return bad("only interleaved RoPE (rope_interleaved = true, all GLM-4) is implemented");
  }
  if (hp.rope_dims() > 0 && hp.rope_base() <= 0) return bad("rope_base must be positive");
  if (hp.norms_per_layer() != 2 && hp.norms_per_layer() != 4) {
    return bad(absl::StrCat("norms_per_layer is ", hp.norms_per_layer(), ", expected 2 or 4"));
  }
  if (hp.norm_eps() <= 0) return bad("norm_eps must be positive");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Model>> Model::Load(std::unique_ptr<WeightSource> source,
                                                   std::unique_ptr<Backend> backend) {
  std::unique_ptr<Model> m(new Model());
  m->source_ = std::move(source);
  m->backend_ = backend ? std::move(backend) : std::make_unique<CpuBackend>();
  const pb::HParams& hp = m->source_->hparams();
  const std::string where = m->source_->Describe();
  GLMQ_RETURN_IF_ERROR(Annotate(CheckHParams(hp), where));
  const int64_t hidden = hp.hidden_size(), vocab = hp.padded_vocab_size();
  auto status = [&]() -> absl::Status {
    GLMQ_ASSIGN_OR_RETURN(m->token_embd_, LoadMatrix(*m->source_, "token_embd.weight", vocab, hidden));
    m->layers_.resize(hp.n_layers());
    for (int i = 0; i < hp.n_layers(); ++i) GLMQ_RETURN_IF_ERROR(m->LoadLayer(i));
    GLMQ_ASSIGN_OR_RETURN(m->output_norm_, LoadVector(*m->source_, "output_norm.weight", hidden));
    absl::StatusOr<WeightView> out = LoadMatrix(*m->source_, "output.weight", vocab, hidden);
    if (absl::IsNotFound(out.status()) && hp.tied_embeddings()) out = m->token_embd_;
    GLMQ_RETURN_IF_ERROR(out.status());
    m->output_ = *out;
    return absl::OkStatus();
  }();
  GLMQ_RETURN_IF_ERROR(Annotate(status, where));
  return m;
}

absl::Status Model::LoadLayer(int i) {
  const pb::HParams& hp = source_->hparams();
  const WeightSource& s = *source_;
  const int64_t hidden = hp.hidden_size(), ffn = hp.ffn_hidden_size();
  const int64_t q_dim = hp.n_heads() * hp.head_dim();
  const int64_t qkv_dim = (hp.n_heads() + 2 * hp.n_kv_heads()) * hp.head_dim();
  const std::string p = absl::StrCat("blk.", i, ".");
  LayerWeights& l = layers_[i];
  GLMQ_ASSIGN_OR_RETURN(l.attn_norm, LoadVector(s, p + "attn_norm.weight", hidden));
  GLMQ_ASSIGN_OR_RETURN(l.attn_qkv, LoadMatrix(s, p + "attn_qkv.weight", qkv_dim, hidden));
  GLMQ_ASSIGN_OR_RETURN(l.attn_qkv_bias,
                        LoadVector(s, p + "attn_qkv.bias", qkv_dim, !hp.qkv_bias()));
  GLMQ_ASSIGN_OR_RETURN(l.attn_output, LoadMatrix(s, p + "attn_output.weight", hidden, q_dim));
  GLMQ_ASSIGN_OR_RETURN(l.attn_output_bias,
                        LoadVector(s, p + "attn_output.bias", hidden, !hp.attn_output_bias()));
  GLMQ_ASSIGN_OR_RETURN(l.ffn_norm, LoadVector(s, p + "ffn_norm.weight", hidden));
  GLMQ_ASSIGN_OR_RETURN(l.ffn_gate_up, LoadMatrix(s, p + "ffn_gate_up.weight", 2 * ffn, hidden));
  GLMQ_ASSIGN_OR_RETURN(l.ffn_gate_up_bias,
                        LoadVector(s, p + "ffn_gate_up.bias", 2 * ffn, !hp.mlp_bias()));
  GLMQ_ASSIGN_OR_RETURN(l.ffn_down, LoadMatrix(s, p + "ffn_down.weight", hidden, ffn));
  GLMQ_ASSIGN_OR_RETURN(l.ffn_down_bias, LoadVector(s, p + "ffn_down.bias", hidden, !hp.mlp_bias()));
  if (hp.norms_per_layer() == 4) {
    GLMQ_ASSIGN_OR_RETURN(l.post_attn_norm, LoadVector(s, p + "post_attn_norm.weight", hidden));
    GLMQ_ASSIGN_OR_RETURN(l.post_ffn_norm, LoadVector(s, p + "post_ffn_norm.weight", hidden));
  }
  return absl::OkStatus();
}

uint64_t Model::WeightBytesPerToken() const {
  uint64_t bytes = token_embd_.size / static_cast<uint64_t>(token_embd_.rows) + output_.size +
                   output_norm_.size() * 4;
  for (const LayerWeights& l : layers_) {
    bytes += l.attn_qkv.size + l.attn_output.size + l.ffn_gate_up.size + l.ffn_down.size;
    bytes += 4 * (l.attn_norm.size() + l.attn_qkv_bias.size() + l.attn_output_bias.size() +
                  l.post_attn_norm.size() + l.ffn_norm.size() + l.ffn_gate_up_bias.size() +
                  l.ffn_down_bias.size() + l.post_ffn_norm.size());
  }
  return bytes;
}

}  // namespace glmq
