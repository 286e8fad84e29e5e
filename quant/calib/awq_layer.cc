#include "quant/calib/awq_layer.h"

#include "core/status.h"

namespace glmq::calib {
namespace {

// E|x| of the context pooled over each GQA group: every query head of a
// group gets the group mean, so the searched scales agree across it.
std::vector<float> PoolGqa(const BlockDims& d, const std::vector<float>& ctx_abs) {
  const int64_t group = d.n_heads / d.n_kv_heads, hd = d.head_dim;
  std::vector<float> pooled(ctx_abs.size());
  for (int64_t kv = 0; kv < d.n_kv_heads; ++kv)
    for (int64_t j = 0; j < hd; ++j) {
      double s = 0;
      for (int64_t h = kv * group; h < (kv + 1) * group; ++h) s += ctx_abs[h * hd + j];
      const float m = static_cast<float>(s / group);
      for (int64_t h = kv * group; h < (kv + 1) * group; ++h) pooled[h * hd + j] = m;
    }
  return pooled;
}

void Record(const AwqScaleResult& r, int k, BlockScales* s) {
  s->alpha[k] = r.alpha;
  s->loss[k] = r.loss;
  s->loss_rtn[k] = r.loss_rtn;
}

}  // namespace

absl::StatusOr<BlockScales> AwqSearchBlock(const BlockDims& d, const BlockTensors& t,
                                           const BlockInputs& in, const QuantSpec& spec,
                                           const AwqOptions& options) {
  if (d.n_kv_heads <= 0 || d.n_heads % d.n_kv_heads != 0)
    return absl::InvalidArgumentError(
        absl::StrCat("AWQ: ", d.n_heads, " query heads over ", d.n_kv_heads, " kv heads"));
  const int64_t qkv_rows = (d.n_heads + 2 * d.n_kv_heads) * d.head_dim;
  const int64_t ctx = d.n_heads * d.head_dim;
  if (static_cast<int64_t>(t.qkv.size()) != qkv_rows * d.hidden ||
      static_cast<int64_t>(t.attn_output.size()) != d.hidden * ctx ||
      static_cast<int64_t>(t.gate_up.size()) != 2 * d.ffn * d.hidden ||
      static_cast<int64_t>(t.down.size()) != d.hidden * d.ffn)
    return absl::InvalidArgumentError("AWQ: block tensor sizes do not match the dimensions");
  BlockScales s;
  BlockTensors work;  // only the tensors whose rows an earlier fold changes
  GLMQ_ASSIGN_OR_RETURN(AwqScaleResult down, AwqSearchScale(t.down.data(), d.hidden, d.ffn,
                                                            *in.down, in.down_abs, spec, options));
  s.down_in = down.scale;
  Record(down, 3, &s);
  work.gate_up = t.gate_up;
  ApplyFold(BlockFold(d, s, pb::ROLE_FFN_GATE_UP), work.gate_up.data(), 0, 2 * d.ffn, d.hidden);
  // ffn_in not searched yet: BlockFold left its columns alone (empty scale).
  GLMQ_ASSIGN_OR_RETURN(AwqScaleResult ffn,
                        AwqSearchScale(work.gate_up.data(), 2 * d.ffn, d.hidden, *in.ffn,
                                       in.ffn_abs, spec, options));
  s.ffn_in = ffn.scale;
  Record(ffn, 2, &s);
  GLMQ_ASSIGN_OR_RETURN(AwqScaleResult o,
                        AwqSearchScale(t.attn_output.data(), d.hidden, ctx, *in.ctx,
                                       PoolGqa(d, in.ctx_abs), spec, options));
  s.ctx = o.scale;
  Record(o, 1, &s);
  const int64_t group = d.n_heads / d.n_kv_heads;
  s.v.resize(d.n_kv_heads * d.head_dim);
  for (int64_t kv = 0; kv < d.n_kv_heads; ++kv)
    for (int64_t j = 0; j < d.head_dim; ++j)
      s.v[kv * d.head_dim + j] = s.ctx[(kv * group) * d.head_dim + j];
  work.qkv = t.qkv;
  ApplyFold(BlockFold(d, s, pb::ROLE_ATTN_QKV), work.qkv.data(), 0, qkv_rows, d.hidden);
  GLMQ_ASSIGN_OR_RETURN(AwqScaleResult qkv, AwqSearchScale(work.qkv.data(), qkv_rows, d.hidden,
                                                           *in.qkv, in.qkv_abs, spec, options));
  s.qkv_in = qkv.scale;
  Record(qkv, 0, &s);
  return s;
}

TensorFold BlockFold(const BlockDims& d, const BlockScales& s, pb::Role role) {
  TensorFold f;
  auto rows_with_tail = [](int64_t head, const std::vector<float>& tail) {
    std::vector<float> r(static_cast<size_t>(head), 1.f);
    r.insert(r.end(), tail.begin(), tail.end());
    return r;
  };
  const int64_t qk_rows = (d.n_heads + d.n_kv_heads) * d.head_dim;
  if (role == pb::ROLE_ATTN_NORM) {
    f.row_div = s.qkv_in;
  } else if (role == pb::ROLE_ATTN_QKV || role == pb::ROLE_ATTN_QKV_BIAS) {
    if (role == pb::ROLE_ATTN_QKV) f.col_mul = s.qkv_in;
    if (!s.v.empty()) f.row_div = rows_with_tail(qk_rows, s.v);
  } else if (role == pb::ROLE_ATTN_OUTPUT) {
    f.col_mul = s.ctx;
  } else if (role == pb::ROLE_FFN_NORM) {
    f.row_div = s.ffn_in;
  } else if (role == pb::ROLE_FFN_GATE_UP || role == pb::ROLE_FFN_GATE_UP_BIAS) {
    if (role == pb::ROLE_FFN_GATE_UP) f.col_mul = s.ffn_in;
    if (!s.down_in.empty()) f.row_div = rows_with_tail(d.ffn, s.down_in);
  } else if (role == pb::ROLE_FFN_DOWN) {
    f.col_mul = s.down_in;
  }
  return f;
}

void ApplyFold(const TensorFold& fold, float* w, int64_t row_begin, int64_t n_rows,
               int64_t cols) {
  for (int64_t r = 0; r < n_rows; ++r) {
    float* wr = w + r * cols;
    if (!fold.col_mul.empty())
      for (int64_t c = 0; c < cols; ++c) wr[c] *= fold.col_mul[c];
    if (!fold.row_div.empty()) {
      const float div = fold.row_div[row_begin + r];
      for (int64_t c = 0; c < cols; ++c) wr[c] /= div;
    }
  }
}

void FoldBlock(const BlockDims& d, const BlockScales& s, BlockTensors* t) {
  const int64_t qkv_rows = (d.n_heads + 2 * d.n_kv_heads) * d.head_dim;
  ApplyFold(BlockFold(d, s, pb::ROLE_ATTN_NORM), t->attn_norm.data(), 0, d.hidden, 1);
  ApplyFold(BlockFold(d, s, pb::ROLE_ATTN_QKV), t->qkv.data(), 0, qkv_rows, d.hidden);
  if (!t->qkv_bias.empty())
    ApplyFold(BlockFold(d, s, pb::ROLE_ATTN_QKV_BIAS), t->qkv_bias.data(), 0, qkv_rows, 1);
  ApplyFold(BlockFold(d, s, pb::ROLE_ATTN_OUTPUT), t->attn_output.data(), 0, d.hidden,
            d.n_heads * d.head_dim);
  ApplyFold(BlockFold(d, s, pb::ROLE_FFN_NORM), t->ffn_norm.data(), 0, d.hidden, 1);
  ApplyFold(BlockFold(d, s, pb::ROLE_FFN_GATE_UP), t->gate_up.data(), 0, 2 * d.ffn, d.hidden);
  ApplyFold(BlockFold(d, s, pb::ROLE_FFN_DOWN), t->down.data(), 0, d.hidden, d.ffn);
}

}  // namespace glmq::calib
