#include "runtime/model.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "runtime/cpu/cpu_backend.h"
#include "runtime/kept_columns.h"
#include "schema/encodings.h"

namespace glmq {
namespace {

// Where each text role lands in the Model: a per-layer matrix or f32
// vector, or a model-level one (token_embd, output_norm, output).
struct Slot {
  pb::Role role;
  WeightView LayerWeights::*layer_matrix = nullptr;
  std::vector<float> LayerWeights::*layer_vector = nullptr;
};
constexpr Slot kLayerSlots[] = {
    {pb::ROLE_ATTN_NORM, nullptr, &LayerWeights::attn_norm},
    {pb::ROLE_ATTN_QKV, &LayerWeights::attn_qkv},
    {pb::ROLE_ATTN_QKV_BIAS, nullptr, &LayerWeights::attn_qkv_bias},
    {pb::ROLE_ATTN_OUTPUT, &LayerWeights::attn_output},
    {pb::ROLE_ATTN_OUTPUT_BIAS, nullptr, &LayerWeights::attn_output_bias},
    {pb::ROLE_POST_ATTN_NORM, nullptr, &LayerWeights::post_attn_norm},
    {pb::ROLE_FFN_NORM, nullptr, &LayerWeights::ffn_norm},
    {pb::ROLE_FFN_GATE_UP, &LayerWeights::ffn_gate_up},
    {pb::ROLE_FFN_GATE_UP_BIAS, nullptr, &LayerWeights::ffn_gate_up_bias},
    {pb::ROLE_FFN_DOWN, &LayerWeights::ffn_down},
    {pb::ROLE_FFN_DOWN_BIAS, nullptr, &LayerWeights::ffn_down_bias},
    {pb::ROLE_POST_FFN_NORM, nullptr, &LayerWeights::post_ffn_norm},
};

// The tensor's checked view, with the shape the table gives it; a linear's
// with its kept columns, if the source has them.
absl::StatusOr<WeightView> LoadView(const WeightSource& src, const ModelTensor& t) {
  GLMQ_ASSIGN_OR_RETURN(WeightView w, src.Find(t.name));
  if (!std::equal(w.shape.begin(), w.shape.end(), t.shape.begin(), t.shape.end())) {
    return absl::InvalidArgumentError(absl::StrCat("tensor '", t.name, "' has shape ",
                                                   ShapeString(w.shape), ", expected ",
                                                   ShapeString(t.shape)));
  }
  if (t.def != nullptr && t.def->input != LinearInput::kNone)
    GLMQ_RETURN_IF_ERROR(AttachKeptColumns(src, &w));
  return w;
}

// A 1-D tensor converted to f32.
absl::StatusOr<std::vector<float>> LoadVector(const WeightSource& src, const ModelTensor& t) {
  GLMQ_ASSIGN_OR_RETURN(WeightView w, LoadView(src, t));
  DType dt;
  if (!DenseDType(w.encoding, &dt)) {
    return absl::InvalidArgumentError(absl::StrCat("tensor '", t.name,
                                                   "': vectors must be f32, f16 or bf16, not ",
                                                   pb::Encoding_Name(w.encoding)));
  }
  std::vector<float> v(w.cols);
  ConvertToF32(dt, w.data, v.data(), w.cols);
  return v;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Model>> Model::Load(std::unique_ptr<WeightSource> source,
                                                   std::unique_ptr<Backend> backend) {
  std::unique_ptr<Model> m(new Model());
  m->source_ = std::move(source);
  m->backend_ = backend ? std::move(backend) : std::make_unique<CpuBackend>();
  const pb::HParams& hp = m->source_->hparams();
  const std::string where = m->source_->Describe();
  auto tensors = ModelTensors(hp, TensorSet::kText);
  GLMQ_RETURN_IF_ERROR(Annotate(tensors.status(), where));
  m->layers_.resize(hp.n_layers());
  for (const ModelTensor& t : *tensors) GLMQ_RETURN_IF_ERROR(Annotate(m->LoadTensor(t), where));
  if (hp.tied_embeddings()) m->output_ = m->token_embd_;
  GLMQ_RETURN_IF_ERROR(Annotate(m->PrepareWeights(), where));
  return m;
}

absl::Status Model::PrepareWeights() {
  Backend& be = *backend_;
  GLMQ_RETURN_IF_ERROR(be.PrepareWeight(token_embd_));
  for (const LayerWeights& l : layers_) {
    for (const WeightView* w : {&l.attn_qkv, &l.attn_output, &l.ffn_gate_up, &l.ffn_down}) {
      GLMQ_RETURN_IF_ERROR(be.PrepareWeight(*w));
    }
  }
  return be.PrepareWeight(output_);
}

absl::Status Model::LoadTensor(const ModelTensor& t) {
  const WeightSource& s = *source_;
  if (t.layer >= 0) {
    for (const Slot& slot : kLayerSlots) {
      if (slot.role != t.role) continue;
      LayerWeights& l = layers_[t.layer];
      if (slot.layer_matrix != nullptr) {
        GLMQ_ASSIGN_OR_RETURN(l.*slot.layer_matrix, LoadView(s, t));
      } else {
        GLMQ_ASSIGN_OR_RETURN(l.*slot.layer_vector, LoadVector(s, t));
      }
      return absl::OkStatus();
    }
  } else if (t.role == pb::ROLE_TOKEN_EMBD) {
    GLMQ_ASSIGN_OR_RETURN(token_embd_, LoadView(s, t));
    return absl::OkStatus();
  } else if (t.role == pb::ROLE_OUTPUT_NORM) {
    GLMQ_ASSIGN_OR_RETURN(output_norm_, LoadVector(s, t));
    return absl::OkStatus();
  } else if (t.role == pb::ROLE_OUTPUT) {
    GLMQ_ASSIGN_OR_RETURN(output_, LoadView(s, t));
    return absl::OkStatus();
  }
  return absl::InternalError(absl::StrCat("tensor '", t.name, "': role ", pb::Role_Name(t.role),
                                          " has no place in the model"));
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
