#include "plan/schemes.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "schema/encodings.h"
#include "quant/scheme.h"

namespace glmq::plan {
namespace {

// Converted tensors are bf16 (the GLM-4 checkpoints are bf16 throughout).
pb::TensorEntry AsEntry(const ModelTensor& t) {
  pb::TensorEntry e;
  e.set_name(t.name);
  e.set_role(t.role);
  e.set_layer(t.layer);
  e.set_encoding(pb::ENCODING_BF16);
  for (int64_t d : t.shape) e.add_shape(d);
  return e;
}

}  // namespace

const std::vector<std::string>& PlannedSchemes() {
  static const std::vector<std::string> schemes = {"bf16", "int8", "int4-g128", "int4-g32"};
  return schemes;
}

absl::StatusOr<WeightBytes> SchemeWeightBytes(absl::string_view scheme,
                                              const std::vector<ModelTensor>& tensors,
                                              int64_t n_layers) {
  std::optional<QuantScheme> quant;
  if (scheme != "bf16") {
    GLMQ_ASSIGN_OR_RETURN(QuantScheme q, QuantScheme::Create(scheme, {}, n_layers));
    quant = std::move(q);
  }
  WeightBytes bytes;
  for (const ModelTensor& t : tensors) {
    const pb::TensorEntry entry = AsEntry(t);
    const pb::QuantRule rule = quant ? quant->Choose(entry) : pb::QuantRule();
    const pb::Encoding enc = quant ? rule.encoding() : pb::ENCODING_BF16;
    absl::StatusOr<uint64_t> n = EncodedBytes(enc, rule.group_size(), t.shape);
    if (!n.ok()) return Annotate(n.status(), absl::StrCat("scheme ", scheme, ": ", t.name));
    (t.role == pb::ROLE_VISION ? bytes.vision : bytes.language) += *n;
  }
  return bytes;
}

absl::StatusOr<pb::QuantRule> ChooseEncoding(absl::string_view scheme, const ModelTensor& t,
                                             int64_t n_layers) {
  if (scheme == "bf16") {
    pb::QuantRule r;
    r.set_encoding(pb::ENCODING_BF16);
    return r;
  }
  GLMQ_ASSIGN_OR_RETURN(QuantScheme q, QuantScheme::Create(scheme, {}, n_layers));
  return q.Choose(AsEntry(t));
}

WeightBytes FileWeightBytes(const pb::ModelMetadata& metadata) {
  WeightBytes bytes;
  for (const pb::TensorEntry& e : metadata.tensors())
    (e.role() == pb::ROLE_VISION ? bytes.vision : bytes.language) += e.size();
  return bytes;
}

}  // namespace glmq::plan
