#include "plan/tp.h"

#include "absl/strings/str_cat.h"
#include "schema/encodings.h"

namespace glmq::plan {
namespace {

// vLLM's VocabParallelEmbedding / ParallelLMHead pad the vocabulary to a
// multiple of 64 before splitting it.
constexpr int64_t kVocabPadding = 64;

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace

absl::StatusOr<TpLayout> MakeTpLayout(const pb::HParams& hp, int tp) {
  auto bad = [&](const std::string& what) {
    return absl::InvalidArgumentError(absl::StrCat("--tp ", tp, ": ", what));
  };
  if (tp < 1 || tp > 1024) return bad("must be 1..1024");
  const int64_t heads = hp.n_heads(), kv = hp.n_kv_heads();
  if (heads % tp != 0) return bad(absl::StrCat(heads, " query heads do not split evenly"));
  if (tp <= kv ? kv % tp != 0 : tp % kv != 0) {
    return bad(
        absl::StrCat(kv, " KV heads: the GPU count must divide them or be a multiple of them"));
  }
  if (hp.ffn_hidden_size() % tp != 0) {
    return bad(absl::StrCat("ffn_hidden_size ", hp.ffn_hidden_size(), " does not split evenly"));
  }
  TpLayout t;
  t.tp = tp;
  t.q_heads = heads / tp;
  t.kv_heads = tp <= kv ? kv / tp : 1;
  t.kv_replicas = tp <= kv ? 1 : tp / kv;
  t.ffn = hp.ffn_hidden_size() / tp;
  t.vocab_rows = CeilDiv(CeilDiv(hp.padded_vocab_size(), kVocabPadding) * kVocabPadding, tp);
  return t;
}

pb::HParams PerGpuHParams(const pb::HParams& hp, const TpLayout& tp) {
  pb::HParams g = hp;
  g.set_n_heads(tp.q_heads);
  g.set_n_kv_heads(tp.kv_heads);
  g.set_ffn_hidden_size(tp.ffn);
  return g;  // logits stay full width: vLLM gathers them before sampling
}

std::vector<ModelTensor> ShardTensors(const std::vector<ModelTensor>& tensors, const pb::HParams& hp,
                                     const TpLayout& tp) {
  const int64_t qkv_rows = (tp.q_heads + 2 * tp.kv_heads) * hp.head_dim();
  std::vector<ModelTensor> out = tensors;
  for (ModelTensor& t : out) {
    switch (t.role) {
      case pb::ROLE_TOKEN_EMBD:
      case pb::ROLE_OUTPUT:
        t.shape[0] = tp.vocab_rows;
        break;
      case pb::ROLE_ATTN_QKV:
      case pb::ROLE_ATTN_QKV_BIAS:
        t.shape[0] = qkv_rows;
        break;
      case pb::ROLE_FFN_GATE_UP:
      case pb::ROLE_FFN_GATE_UP_BIAS:
        t.shape[0] = 2 * tp.ffn;
        break;
      case pb::ROLE_ATTN_OUTPUT:
        if (t.shape.size() == 2) t.shape[1] = tp.q_heads * hp.head_dim();
        break;
      case pb::ROLE_FFN_DOWN:
        if (t.shape.size() == 2) t.shape[1] = tp.ffn;
        break;
      default:
        break;  // norms, biases of row-parallel layers and vision: replicated
    }
  }
  return out;
}

std::vector<std::string> GroupAlignmentProblems(const pb::HParams& hp, const TpLayout& tp,
                                                int group_size) {
  std::vector<std::string> out;
  if (group_size <= 0 || tp.tp == 1) return out;
  const struct {
    const char* name;
    int64_t cols;
  } shards[] = {{"attn_output", tp.q_heads * hp.head_dim()}, {"ffn_down", tp.ffn}};
  for (const auto& s : shards) {
    if (s.cols % group_size != 0) {
      out.push_back(absl::StrCat(s.name, ": ", s.cols, " input columns per GPU, not a multiple of ",
                                 "group size ", group_size));
    }
  }
  return out;
}

WeightBytes ShardedFileWeightBytes(const std::vector<pb::TensorEntry>& tensors,
                                   const pb::HParams& hp, const TpLayout& tp) {
  WeightBytes bytes;
  for (const pb::TensorEntry& e : tensors) {
    ModelTensor t{e.name(), e.role(), e.layer(), {e.shape().begin(), e.shape().end()}, nullptr};
    t = ShardTensors({t}, hp, tp)[0];
    absl::StatusOr<uint64_t> n = EncodedBytes(e.encoding(), e.group_size(), t.shape);
    (e.role() == pb::ROLE_VISION ? bytes.vision : bytes.language) += n.ok() ? *n : e.size();
  }
  return bytes;
}

}  // namespace glmq::plan
