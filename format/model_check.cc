#include "format/model_check.h"

#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "schema/hparams.h"
#include "schema/tensors.h"
#include "schema/weight.h"

namespace glmq {

absl::Status CheckTensorsMatchHParams(const pb::ModelMetadata& md, absl::string_view where) {
  auto expected = ModelTensors(md.hparams());
  if (!expected.ok()) return Annotate(expected.status(), where);
  absl::flat_hash_map<std::string, const pb::TensorEntry*> stored;
  for (const pb::TensorEntry& e : md.tensors()) stored[e.name()] = &e;
  const std::string layout(LayoutName(md.hparams().layout()));
  for (const ModelTensor& t : *expected) {
    auto it = stored.find(t.name);
    if (it == stored.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": tensor '", t.name, "' is missing (the ", layout, " hparams need it)"));
    }
    const pb::TensorEntry& e = *it->second;
    const std::vector<int64_t> shape(e.shape().begin(), e.shape().end());
    if (shape != t.shape) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": tensor '", t.name, "' has shape ",
                                                     ShapeString(shape), ", the hparams give ",
                                                     ShapeString(t.shape)));
    }
    if (e.role() != t.role || e.layer() != t.layer) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": tensor '", t.name, "' has role ", pb::Role_Name(e.role()), " layer ",
          e.layer(), ", the table gives ", pb::Role_Name(t.role), " layer ", t.layer));
    }
    stored.erase(it);
  }
  if (!stored.empty()) {
    std::string first = stored.begin()->first;
    for (const auto& [name, e] : stored) first = std::min(first, name);
    return absl::InvalidArgumentError(absl::StrCat(where, ": tensor '", first,
                                                   "' is not part of a ", layout,
                                                   " model with these hparams (", stored.size(),
                                                   " such tensors)"));
  }
  return absl::OkStatus();
}

}  // namespace glmq
