// The GLM-4 tensor table: every tensor a model of each layout holds, as one
// table of rows (schema/tensors.cc). A row gives the canonical name, role,
// shape as a formula of the hyperparameters, when the tensor exists, which
// activation a linear weight reads, and the Hugging Face names (fused parts
// concatenated by rows) per layout. Convert, the runtime loader, the
// planner, calibration and the quantization presets all enumerate this
// table; nothing else spells a tensor name. specs/glm4-tensors.md is
// rendered from it (RenderTensorSpec, checked by schema_tensors_test).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "schema/glmq.pb.h"

namespace glmq {

// A dimension of a tensor as a function of the hyperparameters.
enum class Dim : uint8_t {
  kOne,        // 1
  kHidden,     // hidden_size
  kVocab,      // padded_vocab_size
  kQkv,        // (n_heads + 2 n_kv_heads) head_dim
  kQ,          // n_heads head_dim
  kKv,         // n_kv_heads head_dim
  kFfn,        // ffn_hidden_size
  kFfn2,       // 2 ffn_hidden_size (gate|up)
  kInvFreq,    // rope_dims / 2 (chatglm's unused rotary_pos_emb.inv_freq)
  kVHidden,    // vision.hidden_size
  kV3Hidden,   // 3 vision.hidden_size (q|k|v)
  kVMlp,       // vision.mlp_size (the blocks' MLP width)
  kVMerger,    // vision.merger_size (the projector's SwiGLU width)
  kVOut,       // vision.out_hidden_size (the width handed to the language model)
  kVIn,        // vision.in_channels
  kVPatch,     // vision.patch_size
  kVTemporal,  // vision.temporal_patch_size (1 when unset)
  kVMerge,     // vision.spatial_merge_size
  kVPositions, // vision.n_positions: the position table's rows
  kVPatchIn,   // in_channels * temporal * patch^2: the patch conv as a matrix
  kVMergeIn,   // hidden * merge^2: the 2x2 downsample conv as a matrix
};

// Where a row sits in the file: the order of this enum, blocks repeated
// per layer (text layers, then vision layers).
enum class Scope : uint8_t {
  kHead,         // before the text blocks (token_embd)
  kBlock,        // per text layer: "blk.{i}."
  kTail,         // after the text blocks (output_norm, output)
  kVisionHead,   // vision tower, before its blocks
  kVisionBlock,  // per vision layer: "v.blk.{i}."
  kVisionTail,   // vision tower after its blocks (downsample, projector)
};

// When a row exists beyond its layouts: hyperparameter switches.
enum class When : uint8_t {
  kAlways,
  kQkvBias,
  kAttnOutputBias,
  kMlpBias,
  kUntied,
  kVisionQkvBias,  // vision.attention_bias (GLM-4.1V's config; EVA2-CLIP always has it)
};

// The activation a text linear weight reads; calibration records one set of
// statistics per (layer, input). Numbered as stored in statistics files.
enum class LinearInput : int8_t {
  kNone = -1,
  kAttnQkv = 0,     // attn_norm output  -> attn_qkv
  kAttnOutput = 1,  // attention context -> attn_output
  kFfnGateUp = 2,   // ffn_norm output   -> ffn_gate_up
  kFfnDown = 3,     // silu(gate) * up   -> ffn_down
  kOutput = 4,      // output_norm output (layer -1) -> output
};
inline constexpr int kNumLinearInputs = 5;

// Bit of a layout in a row's layout mask.
constexpr uint32_t LayoutBit(pb::Layout l) { return uint32_t{1} << static_cast<int>(l); }

// One Hugging Face tensor of a row: name pattern ("{i}" = layer, "{lm}" =
// the layout's language-model prefix) and shape.
struct HfPart {
  std::string pattern;
  std::vector<Dim> shape;
};

// The HF tensors one row is made of in the layouts of `layouts` (a mask of
// LayoutBit), concatenated by rows in this order.
struct HfSource {
  uint32_t layouts;
  std::vector<HfPart> parts;
};

struct TensorDef {
  absl::string_view name;  // canonical pattern ("blk.{i}.attn_qkv.weight"); empty:
                           // stored by HF checkpoints, never converted (source only)
  pb::Role role;
  Scope scope;
  std::vector<Dim> shape;  // canonical, row-major: [out, in] for weights
  When when = When::kAlways;
  LinearInput input = LinearInput::kNone;
  std::vector<HfSource> hf;
  absl::string_view note;  // for the spec
  // Stays dense (f32 / f16 / bf16) whatever a quantization rule asks: the
  // runtime reads it row by row or as f32 values (the vision position
  // tables, CLS / boi / eoi). 1-D tensors always keep their encoding.
  bool keep_dense = false;
};

// Every row, in file order within each scope.
const std::vector<TensorDef>& TensorTable();

// The layouts a row exists in (union of its HfSource masks).
uint32_t RowLayouts(const TensorDef& def);

// One tensor of a concrete model.
struct ModelTensor {
  std::string name;  // "blk.3.attn_qkv.weight"
  pb::Role role = pb::ROLE_UNSPECIFIED;
  int layer = -1;              // text or vision layer; -1 outside the blocks
  std::vector<int64_t> shape;  // row-major
  const TensorDef* def = nullptr;
};

enum class TensorSet : uint8_t { kAll, kText, kVision };

// The canonical tensors a model with these hyperparameters holds, in file
// order (text, then the vision tower). Validates `hp` first
// (schema/hparams.h) and names the first bad field.
absl::StatusOr<std::vector<ModelTensor>> ModelTensors(const pb::HParams& hp,
                                                      TensorSet set = TensorSet::kAll);

// A Hugging Face tensor: name and shape.
struct HfTensorName {
  std::string name;
  std::vector<int64_t> shape;
};

// The HF tensors `t` is made of in hp.layout(), in concatenation order.
std::vector<HfTensorName> HfParts(const ModelTensor& t, const pb::HParams& hp);

// HF tensors the checkpoints of hp.layout() store but glmq never converts
// (chatglm's transformer.rotary_pos_emb.inv_freq), in file order.
std::vector<HfTensorName> SourceOnlyHfTensors(const pb::HParams& hp);

// An HF name pattern of a row in `layout`: "{lm}" expanded, "{i}" replaced
// by `layer` when layer >= 0.
std::string HfName(absl::string_view pattern, int layer, pb::Layout layout);

// Size of one dimension for these hyperparameters.
int64_t DimSize(Dim d, const pb::HParams& hp);

// Canonical name of the text tensor with `role` at `layer` (-1 outside the
// blocks): "blk.3.attn_qkv.weight". Empty if the table has no such row.
std::string TensorName(pb::Role role, int layer = -1);

// The weight that reads `which` at `layer` ("blk.3.attn_qkv.weight",
// "output.weight" for kOutput) and the width of that input.
std::string LinearWeightName(int layer, LinearInput which);
int64_t LinearInputCols(const pb::HParams& hp, LinearInput which);
// The layer and input of a linear weight name; false if it reads none.
bool ParseLinearWeightName(absl::string_view name, int* layer, LinearInput* which);
// Whether the canonical tensor `name` ("v.position_embd.weight") is a row
// with keep_dense: quantization leaves it as stored.
bool KeepsDenseEncoding(absl::string_view name);

// Regex (ECMAScript) matching the canonical names of block tensors with
// `roles` at the layers matched by `layers` (a regex such as "\d+" or
// "(0|39)"): "^blk\.\d+\.(attn_qkv|ffn_down)\.weight$". For rules such as
// the quantization presets.
std::string BlockTensorPattern(absl::string_view layers, const std::vector<pb::Role>& roles);
// "^token_embd\.weight$" for a tensor outside the blocks.
std::string TensorPattern(pb::Role role);

// The tables of specs/glm4-tensors.md (between its "generated" markers).
std::string RenderTensorSpec();

}  // namespace glmq
