#include "runtime/vision/vision_weights.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "schema/encodings.h"

namespace glmq {
namespace {

// Where each vision row of the tensor table (by its canonical pattern) lands
// in VisionWeights: a tower-level or per-layer matrix / table, or an f32
// vector. The names, shapes and HF names are the table's; this is only the
// binding to the structs the forward pass reads.
struct Slot {
  absl::string_view pattern;
  VisionUse use;
  WeightView VisionWeights::*matrix = nullptr;
  std::vector<float> VisionWeights::*vector = nullptr;
  WeightView VisionLayerWeights::*layer_matrix = nullptr;
  std::vector<float> VisionLayerWeights::*layer_vector = nullptr;
};

using VW = VisionWeights;
using LW = VisionLayerWeights;
constexpr VisionUse kM = VisionUse::kMatrix, kV = VisionUse::kVector;

const Slot kSlots[] = {
    {"v.patch_embd.weight", kM, &VW::patch_embed},
    {"v.patch_embd.bias", kV, nullptr, &VW::patch_embed_bias},
    {"v.cls_embd", kV, nullptr, &VW::cls},
    {"v.position_embd.weight", VisionUse::kTable, &VW::pos_embed},
    {"v.post_conv_norm.weight", kV, nullptr, &VW::post_conv_norm},
    {"v.blk.{i}.attn_norm.weight", kV, nullptr, nullptr, nullptr, &LW::attn_norm},
    {"v.blk.{i}.attn_norm.bias", kV, nullptr, nullptr, nullptr, &LW::attn_norm_bias},
    {"v.blk.{i}.attn_qkv.weight", kM, nullptr, nullptr, &LW::attn_qkv},
    {"v.blk.{i}.attn_qkv.bias", kV, nullptr, nullptr, nullptr, &LW::attn_qkv_bias},
    {"v.blk.{i}.attn_output.weight", kM, nullptr, nullptr, &LW::attn_out},
    {"v.blk.{i}.attn_output.bias", kV, nullptr, nullptr, nullptr, &LW::attn_out_bias},
    {"v.blk.{i}.ffn_norm.weight", kV, nullptr, nullptr, nullptr, &LW::ffn_norm},
    {"v.blk.{i}.ffn_norm.bias", kV, nullptr, nullptr, nullptr, &LW::ffn_norm_bias},
    {"v.blk.{i}.ffn_gate.weight", kM, nullptr, nullptr, &LW::ffn_gate},
    {"v.blk.{i}.ffn_up.weight", kM, nullptr, nullptr, &LW::ffn_up},
    {"v.blk.{i}.ffn_up.bias", kV, nullptr, nullptr, nullptr, &LW::ffn_up_bias},
    {"v.blk.{i}.ffn_down.weight", kM, nullptr, nullptr, &LW::ffn_down},
    {"v.blk.{i}.ffn_down.bias", kV, nullptr, nullptr, nullptr, &LW::ffn_down_bias},
    {"v.post_norm.weight", kV, nullptr, &VW::post_norm},
    {"v.downsample.weight", kM, &VW::downsample},
    {"v.downsample.bias", kV, nullptr, &VW::downsample_bias},
    {"v.proj.weight", kM, &VW::merger_proj},
    {"v.proj_norm.weight", kV, nullptr, &VW::merger_norm},
    {"v.proj_norm.bias", kV, nullptr, &VW::merger_norm_bias},
    {"v.proj_gate.weight", kM, &VW::merger_gate},
    {"v.proj_up.weight", kM, &VW::merger_up},
    {"v.proj_down.weight", kM, &VW::merger_down},
    {"v.boi", kV, nullptr, &VW::boi},
    {"v.eoi", kV, nullptr, &VW::eoi},
};

const Slot* FindSlot(const ModelTensor& t) {
  for (const Slot& s : kSlots) {
    if (t.def != nullptr && s.pattern == t.def->name) return &s;
  }
  return nullptr;
}

// The stored tensor, checked against the table's shape and the use.
absl::StatusOr<WeightView> LoadView(const WeightSource& src, const ModelTensor& t, VisionUse use) {
  GLMQ_ASSIGN_OR_RETURN(WeightView w, src.Find(t.name));
  if (!std::equal(w.shape.begin(), w.shape.end(), t.shape.begin(), t.shape.end())) {
    return absl::InvalidArgumentError(absl::StrCat("tensor '", t.name, "' has shape ",
                                                   ShapeString(w.shape), ", expected ",
                                                   ShapeString(t.shape)));
  }
  DType dt;
  if (use != VisionUse::kMatrix && !DenseDType(w.encoding, &dt)) {
    return absl::InvalidArgumentError(absl::StrCat("tensor '", t.name, "' is ",
                                                   pb::Encoding_Name(w.encoding),
                                                   "; it must be f32, f16 or bf16"));
  }
  return w;
}

absl::Status LoadTensor(const WeightSource& src, const ModelTensor& t, VisionWeights* out) {
  const Slot* slot = FindSlot(t);
  if (slot == nullptr)
    return absl::InternalError(absl::StrCat("tensor '", t.name, "' has no place in the tower"));
  if (t.layer >= static_cast<int>(out->layers.size()))
    return absl::InternalError(absl::StrCat("tensor '", t.name, "': layer out of range"));
  GLMQ_ASSIGN_OR_RETURN(WeightView w, LoadView(src, t, slot->use));
  VisionLayerWeights* layer = t.layer >= 0 ? &out->layers[t.layer] : nullptr;
  if (slot->use != VisionUse::kVector) {
    (layer ? layer->*slot->layer_matrix : out->*slot->matrix) = w;
    return absl::OkStatus();
  }
  std::vector<float>& v = layer ? layer->*slot->layer_vector : out->*slot->vector;
  v = DenseToF32(w);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<VisionWeights> LoadVisionWeights(const WeightSource& source, const VisionConfig& c) {
  GLMQ_RETURN_IF_ERROR(CheckVisionConfig(c));
  const std::string where = absl::StrCat(source.Describe(), ": vision tower");
  auto tensors = ModelTensors(source.hparams(), TensorSet::kVision);
  GLMQ_RETURN_IF_ERROR(Annotate(tensors.status(), where));
  const pb::VisionHParams& v = source.hparams().vision();
  if (source.hparams().layout() != c.layout || v.n_layers() != c.n_layers ||
      v.hidden_size() != c.hidden_size) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": the weights' hparams describe another tower than the config"));
  }
  VisionWeights w;
  w.layers.resize(c.n_layers);
  for (const ModelTensor& t : *tensors)
    GLMQ_RETURN_IF_ERROR(Annotate(LoadTensor(source, t, &w), where));
  return w;
}

std::vector<float> DenseToF32(const WeightView& w) {
  DType dt;
  if (!DenseDType(w.encoding, &dt)) return {};
  std::vector<float> v(w.rows * w.cols);
  ConvertToF32(dt, w.data, v.data(), w.rows * w.cols);
  return v;
}

absl::StatusOr<std::vector<VisionTensor>> VisionTensors(const pb::HParams& hp) {
  GLMQ_ASSIGN_OR_RETURN(std::vector<ModelTensor> tensors, ModelTensors(hp, TensorSet::kVision));
  std::vector<VisionTensor> out;
  for (ModelTensor& t : tensors) {
    const Slot* slot = FindSlot(t);
    if (slot == nullptr)
      return absl::InternalError(absl::StrCat("tensor '", t.name, "' has no place in the tower"));
    out.push_back({std::move(t), slot->use});
  }
  return out;
}

}  // namespace glmq
