// Walks a LayoutTable: expected HF tensors and HF -> canonical mapping.
#include "convert/layout.h"

#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "convert/hf_config.h"
#include "core/status.h"
#include "core/tensor.h"
#include "schema/encodings.h"

namespace glmq {
namespace {

int64_t DimSize(Dim d, const pb::HParams& hp) {
  switch (d) {
    case Dim::kNone: return 0;
    case Dim::kHidden: return hp.hidden_size();
    case Dim::kVocab: return hp.padded_vocab_size();
    case Dim::kQkv: return (hp.n_heads() + 2 * hp.n_kv_heads()) * hp.head_dim();
    case Dim::kQ: return hp.n_heads() * hp.head_dim();
    case Dim::kKv: return hp.n_kv_heads() * hp.head_dim();
    case Dim::kFfn: return hp.ffn_hidden_size();
    case Dim::kFfn2: return 2 * hp.ffn_hidden_size();
    case Dim::kInvFreq: return hp.rope_dims() / 2;
  }
  return 0;
}

std::vector<int64_t> PartShape(const HfPart& p, const pb::HParams& hp) {
  if (p.cols == Dim::kNone) return {DimSize(p.rows, hp)};
  return {DimSize(p.rows, hp), DimSize(p.cols, hp)};
}

bool Applies(When w, const pb::HParams& hp) {
  switch (w) {
    case When::kAlways: return true;
    case When::kQkvBias: return hp.qkv_bias();
    case When::kUntied: return !hp.tied_embeddings();
  }
  return true;
}

absl::StatusOr<const LayoutTable*> TableFor(const pb::HParams& hp) {
  if (hp.layout() == pb::LAYOUT_CHATGLM_VISION || hp.layout() == pb::LAYOUT_GLM4V) {
    return absl::UnimplementedError(absl::StrCat(
        "vision models are not supported yet (layout ", LayoutName(hp.layout()),
        ", architecture ", hp.architecture(),
        "): glmq handles the GLM-4 text layouts only (chatglm, glm, glm4)"));
  }
  const LayoutTable* t = FindLayoutTable(hp.layout());
  if (t == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("no tensor layout table for layout ", LayoutName(hp.layout())));
  }
  return t;
}

// Calls fn(rule, layer) for every rule instance in canonical order.
template <typename Fn>
void ForEachRule(const LayoutTable& t, const pb::HParams& hp, Fn fn) {
  for (const TensorRule& r : t.head) fn(r, -1);
  for (int i = 0; i < hp.n_layers(); ++i) {
    for (const TensorRule& r : t.block) fn(r, i);
  }
  for (const TensorRule& r : t.tail) fn(r, -1);
}

}  // namespace

std::string LayerName(absl::string_view pattern, int layer) {
  if (layer < 0) return std::string(pattern);
  return absl::StrReplaceAll(pattern, {{"{i}", absl::StrCat(layer)}});
}

absl::StatusOr<pb::Encoding> EncodingForDType(DType dtype, absl::string_view tensor) {
  switch (dtype) {
    case DType::kBF16: return pb::ENCODING_BF16;
    case DType::kF16: return pb::ENCODING_F16;
    case DType::kF32: return pb::ENCODING_F32;
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "tensor '", tensor, "': dtype ", Traits(dtype).name,
          " is not a weight dtype (BF16, F16 or F32)"));
  }
}

absl::StatusOr<DType> DTypeForEncoding(pb::Encoding encoding, absl::string_view tensor) {
  DType dt;
  if (DenseDType(encoding, &dt)) return dt;
  return absl::InvalidArgumentError(absl::StrCat(
      "tensor '", tensor, "': encoding ", pb::Encoding_Name(encoding), " is not a plain dtype"));
}

absl::StatusOr<std::vector<SafetensorsTensor>> ExpectedHfTensors(const pb::HParams& hp) {
  GLMQ_ASSIGN_OR_RETURN(const LayoutTable* t, TableFor(hp));
  std::vector<SafetensorsTensor> out;
  for (const HfPart& p : t->ignored) {  // inv_freq sits first in real chatglm files
    out.push_back({std::string(p.pattern), DType::kBF16, PartShape(p, hp), 0, 0});
  }
  ForEachRule(*t, hp, [&](const TensorRule& r, int layer) {
    if (!Applies(r.when, hp)) return;
    for (const HfPart& p : r.parts) {
      out.push_back({LayerName(p.pattern, layer), DType::kBF16, PartShape(p, hp), 0, 0});
    }
  });
  return out;
}

absl::StatusOr<std::vector<CanonicalTensor>> MapHfTensors(
    const pb::HParams& hp, const std::vector<SafetensorsTensor>& hf) {
  GLMQ_ASSIGN_OR_RETURN(const LayoutTable* t, TableFor(hp));
  absl::flat_hash_map<std::string, const SafetensorsTensor*> by_name;
  for (const SafetensorsTensor& s : hf) by_name[s.name] = &s;
  std::set<std::string> used;
  for (const HfPart& p : t->ignored) used.insert(std::string(p.pattern));
  std::vector<CanonicalTensor> out;
  absl::Status status;
  ForEachRule(*t, hp, [&](const TensorRule& r, int layer) {
    if (!status.ok() || !Applies(r.when, hp)) return;
    CanonicalTensor c;
    c.entry.set_name(LayerName(r.canonical, layer));
    c.entry.set_role(r.role);
    c.entry.set_layer(layer);
    int64_t rows = 0;
    std::vector<int64_t> shape;
    for (const HfPart& p : r.parts) {
      const std::string name = LayerName(p.pattern, layer);
      auto it = by_name.find(name);
      if (it == by_name.end()) {
        status = absl::NotFoundError(absl::StrCat("required tensor '", name, "' (for ",
                                                  c.entry.name(), ") is missing"));
        return;
      }
      const SafetensorsTensor& s = *it->second;
      shape = PartShape(p, hp);
      if (s.shape != shape) {
        status = absl::InvalidArgumentError(
            absl::StrCat("tensor '", name, "' has shape ", ShapeString(s.shape), ", expected ",
                         ShapeString(shape), " from config.json"));
        return;
      }
      auto enc = EncodingForDType(s.dtype, name);
      if (!enc.ok()) { status = enc.status(); return; }
      if (!c.sources.empty() && s.dtype != c.sources[0].dtype) {
        status = absl::InvalidArgumentError(absl::StrCat(
            "tensor '", name, "' has dtype ", Traits(s.dtype).name, " but '",
            c.sources[0].name, "' (merged into ", c.entry.name(), ") has ",
            Traits(c.sources[0].dtype).name));
        return;
      }
      c.entry.set_encoding(*enc);
      c.entry.add_source_names(name);
      c.sources.push_back(s);
      used.insert(name);
      rows += shape[0];
    }
    shape[0] = rows;
    for (int64_t d : shape) c.entry.add_shape(d);
    out.push_back(std::move(c));
  });
  GLMQ_RETURN_IF_ERROR(status);
  for (const SafetensorsTensor& s : hf) {
    if (!used.contains(s.name)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tensor '", s.name, "' is not part of the ", LayoutName(hp.layout()),
          " layout (unknown or unmapped name)"));
    }
  }
  return out;
}

}  // namespace glmq
