// Maps HF checkpoints onto canonical tensors by walking the tensor table.
#include "convert/layout.h"

#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "schema/encodings.h"
#include "schema/hparams.h"
#include "schema/tensors.h"
#include "schema/weight.h"

namespace glmq {
namespace {

// One canonical tensor from its HF parts; records the parts in *used.
absl::StatusOr<CanonicalTensor> MapOne(
    const ModelTensor& t, const pb::HParams& hp,
    const absl::flat_hash_map<std::string, const SafetensorsTensor*>& by_name,
    std::set<std::string>* used) {
  CanonicalTensor c;
  c.entry.set_name(t.name);
  c.entry.set_role(t.role);
  c.entry.set_layer(t.layer);
  for (const HfTensorName& part : HfParts(t, hp)) {
    auto it = by_name.find(part.name);
    if (it == by_name.end()) {
      return absl::NotFoundError(
          absl::StrCat("required tensor '", part.name, "' (for ", t.name, ") is missing"));
    }
    const SafetensorsTensor& s = *it->second;
    if (s.shape != part.shape) {
      return absl::InvalidArgumentError(absl::StrCat("tensor '", part.name, "' has shape ",
                                                     ShapeString(s.shape), ", expected ",
                                                     ShapeString(part.shape), " from config.json"));
    }
    GLMQ_ASSIGN_OR_RETURN(pb::Encoding enc, EncodingForDType(s.dtype, part.name));
    if (!c.sources.empty() && s.dtype != c.sources[0].dtype) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tensor '", part.name, "' has dtype ", Traits(s.dtype).name, " but '", c.sources[0].name,
          "' (merged into ", t.name, ") has ", Traits(c.sources[0].dtype).name));
    }
    c.entry.set_encoding(enc);
    c.entry.add_source_names(part.name);
    c.sources.push_back(s);
    used->insert(part.name);
  }
  for (int64_t d : t.shape) c.entry.add_shape(d);
  return c;
}

}  // namespace

absl::StatusOr<pb::Encoding> EncodingForDType(DType dtype, absl::string_view tensor) {
  switch (dtype) {
    case DType::kBF16:
      return pb::ENCODING_BF16;
    case DType::kF16:
      return pb::ENCODING_F16;
    case DType::kF32:
      return pb::ENCODING_F32;
    default:
      return absl::InvalidArgumentError(absl::StrCat("tensor '", tensor, "': dtype ",
                                                     Traits(dtype).name,
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
  GLMQ_ASSIGN_OR_RETURN(std::vector<ModelTensor> tensors, ModelTensors(hp));
  std::vector<SafetensorsTensor> out;
  for (const HfTensorName& s : SourceOnlyHfTensors(hp))  // inv_freq sits first in chatglm files
    out.push_back({s.name, DType::kBF16, s.shape, 0, 0});
  for (const ModelTensor& t : tensors) {
    for (const HfTensorName& p : HfParts(t, hp))
      out.push_back({p.name, DType::kBF16, p.shape, 0, 0});
  }
  return out;
}

absl::StatusOr<std::vector<CanonicalTensor>> MapHfTensors(
    const pb::HParams& hp, const std::vector<SafetensorsTensor>& hf) {
  GLMQ_ASSIGN_OR_RETURN(std::vector<ModelTensor> tensors, ModelTensors(hp));
  absl::flat_hash_map<std::string, const SafetensorsTensor*> by_name;
  for (const SafetensorsTensor& s : hf) by_name[s.name] = &s;
  std::set<std::string> used;
  for (const HfTensorName& s : SourceOnlyHfTensors(hp)) used.insert(s.name);
  std::vector<CanonicalTensor> out;
  for (const ModelTensor& t : tensors) {
    GLMQ_ASSIGN_OR_RETURN(CanonicalTensor c, MapOne(t, hp, by_name, &used));
    out.push_back(std::move(c));
  }
  for (const SafetensorsTensor& s : hf) {
    if (!used.contains(s.name)) {
      return absl::InvalidArgumentError(absl::StrCat("tensor '", s.name, "' is not part of the ",
                                                     LayoutName(hp.layout()),
                                                     " layout (unknown or unmapped name)"));
    }
  }
  return out;
}

}  // namespace glmq
