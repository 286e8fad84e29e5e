// Walks the tensor table (schema/tensor_table.cc) for a concrete model.
#include "schema/tensors.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "core/status.h"
#include "schema/hparams.h"

namespace glmq {
namespace {

// The language model's name prefix ("{lm}") of the HF layouts.
absl::string_view LmPrefix(pb::Layout layout) {
  return layout == pb::LAYOUT_GLM4V ? "model.language_model." : "model.";
}

std::vector<int64_t> Shape(const std::vector<Dim>& dims, const pb::HParams& hp) {
  std::vector<int64_t> s;
  for (Dim d : dims) s.push_back(DimSize(d, hp));
  return s;
}

bool Applies(const TensorDef& d, const pb::HParams& hp) {
  if ((RowLayouts(d) & LayoutBit(hp.layout())) == 0) return false;
  switch (d.when) {
    case When::kAlways:
      return true;
    case When::kQkvBias:
      return hp.qkv_bias();
    case When::kAttnOutputBias:
      return hp.attn_output_bias();
    case When::kMlpBias:
      return hp.mlp_bias();
    case When::kUntied:
      return !hp.tied_embeddings();
    case When::kVisionQkvBias:
      return hp.vision().attention_bias();
  }
  return true;
}

bool IsBlock(Scope s) { return s == Scope::kBlock || s == Scope::kVisionBlock; }
bool IsVision(Scope s) { return s >= Scope::kVisionHead; }

const HfSource* SourceFor(const TensorDef& d, pb::Layout layout) {
  for (const HfSource& s : d.hf)
    if (s.layouts & LayoutBit(layout)) return &s;
  return nullptr;
}

// Calls fn(def, layer) for every row instance of the model in file order.
template <typename Fn>
void ForEachRow(const pb::HParams& hp, Fn fn) {
  constexpr Scope kScopes[] = {Scope::kHead,       Scope::kBlock,       Scope::kTail,
                               Scope::kVisionHead, Scope::kVisionBlock, Scope::kVisionTail};
  for (Scope scope : kScopes) {
    const int64_t layers = !IsBlock(scope)                ? 1
                           : scope == Scope::kVisionBlock ? hp.vision().n_layers()
                                                          : hp.n_layers();
    for (int64_t i = 0; i < layers; ++i) {
      for (const TensorDef& d : TensorTable()) {
        if (d.scope == scope && Applies(d, hp)) fn(d, IsBlock(scope) ? static_cast<int>(i) : -1);
      }
    }
  }
}

const TensorDef* LinearRow(LinearInput which) {
  for (const TensorDef& d : TensorTable())
    if (d.input == which) return &d;
  return nullptr;
}

}  // namespace

std::string HfName(absl::string_view pattern, int layer, pb::Layout layout) {
  std::string s = absl::StrReplaceAll(pattern, {{"{lm}", LmPrefix(layout)}});
  return layer < 0 ? s : absl::StrReplaceAll(s, {{"{i}", absl::StrCat(layer)}});
}

int64_t DimSize(Dim d, const pb::HParams& hp) {
  const pb::VisionHParams& v = hp.vision();
  const int64_t temporal = v.temporal_patch_size() > 0 ? v.temporal_patch_size() : 1;
  switch (d) {
    case Dim::kOne:
      return 1;
    case Dim::kHidden:
      return hp.hidden_size();
    case Dim::kVocab:
      return hp.padded_vocab_size();
    case Dim::kQkv:
      return (hp.n_heads() + 2 * hp.n_kv_heads()) * hp.head_dim();
    case Dim::kQ:
      return hp.n_heads() * hp.head_dim();
    case Dim::kKv:
      return hp.n_kv_heads() * hp.head_dim();
    case Dim::kFfn:
      return hp.ffn_hidden_size();
    case Dim::kFfn2:
      return 2 * hp.ffn_hidden_size();
    case Dim::kInvFreq:
      return hp.rope_dims() / 2;
    case Dim::kVHidden:
      return v.hidden_size();
    case Dim::kV3Hidden:
      return 3 * v.hidden_size();
    case Dim::kVMlp:
      return v.mlp_size();
    case Dim::kVMerger:
      return v.merger_size();
    case Dim::kVOut:
      return v.out_hidden_size();
    case Dim::kVIn:
      return v.in_channels();
    case Dim::kVPatch:
      return v.patch_size();
    case Dim::kVTemporal:
      return temporal;
    case Dim::kVMerge:
      return v.spatial_merge_size();
    case Dim::kVPositions:
      return v.n_positions();
    case Dim::kVPatchIn:
      return v.in_channels() * temporal * v.patch_size() * v.patch_size();
    case Dim::kVMergeIn:
      return v.hidden_size() * v.spatial_merge_size() * v.spatial_merge_size();
  }
  return 0;
}

uint32_t RowLayouts(const TensorDef& def) {
  uint32_t mask = 0;
  for (const HfSource& s : def.hf) mask |= s.layouts;
  return mask;
}

absl::StatusOr<std::vector<ModelTensor>> ModelTensors(const pb::HParams& hp, TensorSet set) {
  GLMQ_RETURN_IF_ERROR(ValidateHParams(hp));
  std::vector<ModelTensor> out;
  ForEachRow(hp, [&](const TensorDef& d, int layer) {
    if (d.name.empty()) return;
    if (set == TensorSet::kText && IsVision(d.scope)) return;
    if (set == TensorSet::kVision && !IsVision(d.scope)) return;
    out.push_back({absl::StrReplaceAll(d.name, {{"{i}", absl::StrCat(layer)}}), d.role, layer,
                   Shape(d.shape, hp), &d});
  });
  return out;
}

std::vector<HfTensorName> HfParts(const ModelTensor& t, const pb::HParams& hp) {
  std::vector<HfTensorName> out;
  const HfSource* src = t.def ? SourceFor(*t.def, hp.layout()) : nullptr;
  if (src == nullptr) return out;
  for (const HfPart& p : src->parts)
    out.push_back({HfName(p.pattern, t.layer, hp.layout()), Shape(p.shape, hp)});
  return out;
}

std::vector<HfTensorName> SourceOnlyHfTensors(const pb::HParams& hp) {
  std::vector<HfTensorName> out;
  ForEachRow(hp, [&](const TensorDef& d, int layer) {
    if (!d.name.empty()) return;
    const HfSource* src = SourceFor(d, hp.layout());
    for (const HfPart& p : src->parts)
      out.push_back({HfName(p.pattern, layer, hp.layout()), Shape(p.shape, hp)});
  });
  return out;
}

std::string TensorName(pb::Role role, int layer) {
  for (const TensorDef& d : TensorTable()) {
    if (d.role != role || d.name.empty() || IsVision(d.scope)) continue;
    if (IsBlock(d.scope) != (layer >= 0)) continue;
    return absl::StrReplaceAll(d.name, {{"{i}", absl::StrCat(layer)}});
  }
  return "";
}

std::string LinearWeightName(int layer, LinearInput which) {
  const TensorDef* d = LinearRow(which);
  if (d == nullptr) return "";
  return TensorName(d->role, IsBlock(d->scope) ? layer : -1);
}

int64_t LinearInputCols(const pb::HParams& hp, LinearInput which) {
  const TensorDef* d = LinearRow(which);
  return d == nullptr ? 0 : DimSize(d->shape.back(), hp);
}

namespace {

// Whether `name` is the row pattern `pattern` with "{i}" (if any) a layer
// number written canonically; *layer: that number, or -1.
bool MatchesRow(absl::string_view pattern, absl::string_view name, int* layer) {
  const std::vector<std::string> parts = absl::StrSplit(pattern, "{i}");
  if (parts.size() == 1) {
    *layer = -1;
    return name == pattern;
  }
  if (name.size() < parts[0].size() + parts[1].size() || !absl::StartsWith(name, parts[0]) ||
      !absl::EndsWith(name, parts[1])) {
    return false;
  }
  absl::string_view num =
      name.substr(parts[0].size(), name.size() - parts[0].size() - parts[1].size());
  return !num.empty() && absl::SimpleAtoi(num, layer) && *layer >= 0 &&
         absl::StrCat(*layer) == num;
}

}  // namespace

bool ParseLinearWeightName(absl::string_view name, int* layer, LinearInput* which) {
  for (const TensorDef& d : TensorTable()) {
    if (d.input == LinearInput::kNone || !MatchesRow(d.name, name, layer)) continue;
    *which = d.input;
    return true;
  }
  return false;
}

bool KeepsDenseEncoding(absl::string_view name) {
  int layer = -1;
  for (const TensorDef& d : TensorTable()) {
    if (d.keep_dense && MatchesRow(d.name, name, &layer)) return true;
  }
  return false;
}

std::string BlockTensorPattern(absl::string_view layers, const std::vector<pb::Role>& roles) {
  std::vector<std::string> stems;
  std::string prefix, suffix;
  for (pb::Role role : roles) {
    for (const TensorDef& d : TensorTable()) {
      if (d.role != role || d.scope != Scope::kBlock) continue;
      // "blk.{i}.attn_qkv.weight" -> prefix "blk.", stem "attn_qkv", suffix ".weight"
      const size_t i = d.name.find("{i}."), dot = d.name.rfind('.');
      prefix = std::string(d.name.substr(0, i));
      suffix = std::string(d.name.substr(dot));
      stems.push_back(std::string(d.name.substr(i + 4, dot - i - 4)));
    }
  }
  auto esc = [](absl::string_view s) { return absl::StrReplaceAll(s, {{".", "\\."}}); };
  return absl::StrCat("^", esc(prefix), layers, "\\.(", absl::StrJoin(stems, "|"), ")", esc(suffix),
                      "$");
}

std::string TensorPattern(pb::Role role) {
  return absl::StrCat("^", absl::StrReplaceAll(TensorName(role), {{".", "\\."}}), "$");
}

}  // namespace glmq
