#include "runtime/vision/vision_weights.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "core/status.h"
#include "schema/encodings.h"

namespace glmq {
namespace {

// A size the table's shapes are written in.
enum class Dim {
  kOne,
  kHidden,
  kQkv,
  kMlp,
  kOut,
  kMerger,
  kPositions,
  kChannels,
  kTemporal,
  kPatch,
  kMerge
};

int64_t DimValue(Dim d, const VisionConfig& c) {
  switch (d) {
    case Dim::kOne:
      return 1;
    case Dim::kHidden:
      return c.hidden_size;
    case Dim::kQkv:
      return 3 * c.hidden_size;
    case Dim::kMlp:
      return c.mlp_size;
    case Dim::kOut:
      return c.out_hidden_size;
    case Dim::kMerger:
      return c.merger_size;
    case Dim::kPositions:
      return c.n_positions;
    case Dim::kChannels:
      return c.in_channels;
    case Dim::kTemporal:
      return c.temporal_patch_size;
    case Dim::kPatch:
      return c.patch_size;
    case Dim::kMerge:
      return c.merge_size;
  }
  return 0;
}

// kMatrix: multiplied through Backend::MatMul, any encoding; stored either
// with `shape` (dense) or as [shape[0], product of the rest] (any encoding).
// kTable: a dense [rows, cols] table read row by row. kVector: dense,
// converted to f32; stored with `shape` (its product is the length).
enum class Kind { kMatrix, kTable, kVector };
// kQkvBias: only when VisionConfig::qkv_bias.
enum class Need { kAlways, kQkvBias };

template <class Owner>
struct TensorRow {
  const char* chatglm;  // LAYOUT_CHATGLM_VISION name, nullptr: not in that tower
  const char* glm4v;    // LAYOUT_GLM4V name ("{i}" = the layer)
  Kind kind;
  std::vector<Dim> shape;
  WeightView Owner::*matrix;          // kMatrix, kTable
  std::vector<float> Owner::*vector;  // kVector
  Need need;
  std::vector<Dim> glm4v_shape;  // if the GLM-4.1V shape differs (else empty)
};

template <class Owner>
TensorRow<Owner> Mat(const char* chatglm, const char* glm4v, std::vector<Dim> shape,
                     WeightView Owner::*field, std::vector<Dim> glm4v_shape = {}) {
  return {chatglm, glm4v,   Kind::kMatrix, std::move(shape),
          field,   nullptr, Need::kAlways, std::move(glm4v_shape)};
}
template <class Owner>
TensorRow<Owner> Table(const char* chatglm, const char* glm4v, std::vector<Dim> shape,
                       WeightView Owner::*field) {
  return {chatglm, glm4v, Kind::kTable, std::move(shape), field, nullptr, Need::kAlways, {}};
}
template <class Owner>
TensorRow<Owner> Vec(const char* chatglm, const char* glm4v, std::vector<Dim> shape,
                     std::vector<float> Owner::*field, Need need = Need::kAlways) {
  return {chatglm, glm4v, Kind::kVector, std::move(shape), nullptr, field, need, {}};
}

using D = Dim;
using VW = VisionWeights;
using LW = VisionLayerWeights;

// Every tensor name of both towers (Hugging Face names): remapping the
// towers onto other names is an edit of these two tables.
// clang-format off
const std::vector<TensorRow<VW>>& GlobalRows() {
  static const std::vector<TensorRow<VW>> rows = {
    Mat<VW>("transformer.vision.patch_embedding.proj.weight", "model.visual.patch_embed.proj.weight",
            {D::kHidden, D::kChannels, D::kPatch, D::kPatch}, &VW::patch_embed,
            {D::kHidden, D::kChannels, D::kTemporal, D::kPatch, D::kPatch}),
    Vec<VW>("transformer.vision.patch_embedding.proj.bias", "model.visual.patch_embed.proj.bias",
            {D::kHidden}, &VW::patch_embed_bias),
    Vec<VW>("transformer.vision.patch_embedding.cls_embedding", nullptr,
            {D::kOne, D::kHidden}, &VW::cls),
    Table<VW>("transformer.vision.patch_embedding.position_embedding.weight",
              "model.visual.embeddings.position_embedding.weight",
              {D::kPositions, D::kHidden}, &VW::pos_embed),
    Vec<VW>(nullptr, "model.visual.post_conv_layernorm.weight", {D::kHidden}, &VW::post_conv_norm),
    Vec<VW>(nullptr, "model.visual.post_layernorm.weight", {D::kHidden}, &VW::post_norm),
    Mat<VW>("transformer.vision.conv.weight", "model.visual.downsample.weight",
            {D::kOut, D::kHidden, D::kMerge, D::kMerge}, &VW::downsample),
    Vec<VW>("transformer.vision.conv.bias", "model.visual.downsample.bias",
            {D::kOut}, &VW::downsample_bias),
    Mat<VW>("transformer.vision.linear_proj.linear_proj.weight", "model.visual.merger.proj.weight",
            {D::kOut, D::kOut}, &VW::merger_proj),
    Vec<VW>("transformer.vision.linear_proj.norm1.weight",
            "model.visual.merger.post_projection_norm.weight", {D::kOut}, &VW::merger_norm),
    Vec<VW>("transformer.vision.linear_proj.norm1.bias",
            "model.visual.merger.post_projection_norm.bias", {D::kOut}, &VW::merger_norm_bias),
    Mat<VW>("transformer.vision.linear_proj.gate_proj.weight", "model.visual.merger.gate_proj.weight",
            {D::kMerger, D::kOut}, &VW::merger_gate),
    Mat<VW>("transformer.vision.linear_proj.dense_h_to_4h.weight", "model.visual.merger.up_proj.weight",
            {D::kMerger, D::kOut}, &VW::merger_up),
    Mat<VW>("transformer.vision.linear_proj.dense_4h_to_h.weight", "model.visual.merger.down_proj.weight",
            {D::kOut, D::kMerger}, &VW::merger_down),
    Vec<VW>("transformer.vision.boi", nullptr, {D::kOne, D::kOne, D::kOut}, &VW::boi),
    Vec<VW>("transformer.vision.eoi", nullptr, {D::kOne, D::kOne, D::kOut}, &VW::eoi),
  };
  return rows;
}

const std::vector<TensorRow<LW>>& LayerRows() {
  static const std::vector<TensorRow<LW>> rows = {
    Vec<LW>("transformer.vision.transformer.layers.{i}.input_layernorm.weight",
            "model.visual.blocks.{i}.norm1.weight", {D::kHidden}, &LW::attn_norm),
    Vec<LW>("transformer.vision.transformer.layers.{i}.input_layernorm.bias", nullptr,
            {D::kHidden}, &LW::attn_norm_bias),
    Mat<LW>("transformer.vision.transformer.layers.{i}.attention.query_key_value.weight",
            "model.visual.blocks.{i}.attn.qkv.weight", {D::kQkv, D::kHidden}, &LW::attn_qkv),
    Vec<LW>("transformer.vision.transformer.layers.{i}.attention.query_key_value.bias",
            "model.visual.blocks.{i}.attn.qkv.bias", {D::kQkv}, &LW::attn_qkv_bias, Need::kQkvBias),
    Mat<LW>("transformer.vision.transformer.layers.{i}.attention.dense.weight",
            "model.visual.blocks.{i}.attn.proj.weight", {D::kHidden, D::kHidden}, &LW::attn_out),
    Vec<LW>("transformer.vision.transformer.layers.{i}.attention.dense.bias", nullptr,
            {D::kHidden}, &LW::attn_out_bias),
    Vec<LW>("transformer.vision.transformer.layers.{i}.post_attention_layernorm.weight",
            "model.visual.blocks.{i}.norm2.weight", {D::kHidden}, &LW::ffn_norm),
    Vec<LW>("transformer.vision.transformer.layers.{i}.post_attention_layernorm.bias", nullptr,
            {D::kHidden}, &LW::ffn_norm_bias),
    Mat<LW>(nullptr, "model.visual.blocks.{i}.mlp.gate_proj.weight",
            {D::kMlp, D::kHidden}, &LW::ffn_gate),
    Mat<LW>("transformer.vision.transformer.layers.{i}.mlp.fc1.weight",
            "model.visual.blocks.{i}.mlp.up_proj.weight", {D::kMlp, D::kHidden}, &LW::ffn_up),
    Vec<LW>("transformer.vision.transformer.layers.{i}.mlp.fc1.bias", nullptr,
            {D::kMlp}, &LW::ffn_up_bias),
    Mat<LW>("transformer.vision.transformer.layers.{i}.mlp.fc2.weight",
            "model.visual.blocks.{i}.mlp.down_proj.weight", {D::kHidden, D::kMlp}, &LW::ffn_down),
    Vec<LW>("transformer.vision.transformer.layers.{i}.mlp.fc2.bias", nullptr,
            {D::kHidden}, &LW::ffn_down_bias),
  };
  return rows;
}
// clang-format on

std::string ShapeStr(const std::vector<int64_t>& s) {
  return absl::StrCat("[", absl::StrJoin(s, ", "), "]");
}

// The row's name for c, with the layer filled in; empty if the tower has no
// such tensor (or it is an absent optional one).
template <class Owner>
std::string RowName(const TensorRow<Owner>& row, const VisionConfig& c, int layer) {
  const char* pattern = c.layout == pb::LAYOUT_CHATGLM_VISION ? row.chatglm : row.glm4v;
  if (pattern == nullptr || (row.need == Need::kQkvBias && !c.qkv_bias)) return "";
  return absl::StrReplaceAll(pattern, {{"{i}", absl::StrCat(layer)}});
}

// Checks t against the row and returns it as a [rows, cols] view (vectors:
// rows = 1).
absl::StatusOr<WeightView> CheckTensor(const std::string& name, const WeightView& stored,
                                       Kind kind, const std::vector<int64_t>& want) {
  struct {
    pb::Encoding encoding;
    int32_t group_size;
    std::vector<int64_t> shape;
    const uint8_t* data;
    uint64_t size;
  } t{stored.encoding, stored.group_size,
      std::vector<int64_t>(stored.shape.begin(), stored.shape.end()), stored.data, stored.size};
  int64_t total = 1;
  for (int64_t d : want) total *= d;
  const int64_t rows = kind == Kind::kVector ? 1 : want[0];
  const int64_t cols = total / rows;
  const std::vector<int64_t> flat = {rows, cols};
  DType dt;
  const bool dense = DenseDType(t.encoding, &dt);
  const bool shape_ok = t.shape == want || (kind == Kind::kMatrix && t.shape == flat);
  if (!shape_ok) {
    std::string also =
        kind == Kind::kMatrix && want.size() > 2 ? absl::StrCat(" or ", ShapeStr(flat)) : "";
    return absl::InvalidArgumentError(absl::StrCat(
        "tensor '", name, "' has shape ", ShapeStr(t.shape), ", expected ", ShapeStr(want), also));
  }
  if (!dense && (kind != Kind::kMatrix || t.shape != flat)) {
    const EncodingTraits* tr = FindEncoding(t.encoding);
    return absl::InvalidArgumentError(
        absl::StrCat("tensor '", name, "' is ", tr ? tr->name : "of an unknown encoding",
                     kind == Kind::kMatrix ? "; quantized convolution weights must be stored as "
                                           : "; it must be f32, f16 or bf16",
                     kind == Kind::kMatrix ? ShapeStr(flat) : ""));
  }
  return MakeWeightView(stored.name, t.encoding, t.group_size, {rows, cols}, t.data, t.size);
}

// The row's Hugging Face shape for c.
template <class Owner>
std::vector<int64_t> RowShape(const TensorRow<Owner>& row, const VisionConfig& c) {
  const bool own_shape = c.layout == pb::LAYOUT_GLM4V && !row.glm4v_shape.empty();
  std::vector<int64_t> shape;
  for (Dim d : own_shape ? row.glm4v_shape : row.shape) shape.push_back(DimValue(d, c));
  return shape;
}

template <class Owner>
absl::Status LoadRows(const WeightSource& src, const VisionConfig& c,
                      const std::vector<TensorRow<Owner>>& rows, int layer, Owner* out) {
  for (const TensorRow<Owner>& row : rows) {
    const std::string name = RowName(row, c, layer);
    if (name.empty()) continue;
    const std::vector<int64_t> want = RowShape(row, c);
    GLMQ_ASSIGN_OR_RETURN(WeightView t, src.Find(name));
    GLMQ_ASSIGN_OR_RETURN(WeightView view, CheckTensor(name, t, row.kind, want));
    if (row.kind != Kind::kVector) {
      out->*row.matrix = view;
      continue;
    }
    DType dt;
    DenseDType(view.encoding, &dt);
    std::vector<float>& v = out->*row.vector;
    v.resize(view.cols);
    ConvertToF32(dt, view.data, v.data(), view.cols);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<VisionWeights> LoadVisionWeights(const WeightSource& source, const VisionConfig& c) {
  GLMQ_RETURN_IF_ERROR(CheckVisionConfig(c));
  VisionWeights w;
  w.layers.resize(c.n_layers);
  absl::Status s = LoadRows(source, c, GlobalRows(), -1, &w);
  for (int i = 0; s.ok() && i < c.n_layers; ++i)
    s = LoadRows(source, c, LayerRows(), i, &w.layers[i]);
  GLMQ_RETURN_IF_ERROR(Annotate(s, "vision tower"));
  return w;
}

std::vector<float> DenseToF32(const WeightView& w) {
  DType dt;
  if (!DenseDType(w.encoding, &dt)) return {};
  std::vector<float> v(w.rows * w.cols);
  ConvertToF32(dt, w.data, v.data(), w.rows * w.cols);
  return v;
}

std::vector<VisionTensorSpec> VisionTensors(const VisionConfig& c) {
  std::vector<VisionTensorSpec> out;
  auto add = [&](const auto& row, int layer) {
    std::string name = RowName(row, c, layer);
    if (name.empty()) return;
    out.push_back(
        {std::move(name), RowShape(row, c), row.kind == Kind::kMatrix, row.kind == Kind::kVector});
  };
  for (const auto& row : GlobalRows()) add(row, -1);
  for (int i = 0; i < c.n_layers; ++i) {
    for (const auto& row : LayerRows()) add(row, i);
  }
  return out;
}

}  // namespace glmq
