#include "format/model_check.h"

#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "schema/hparams.h"
#include "schema/tensors.h"
#include "schema/weight.h"

namespace glmq {
namespace {

using StoredMap = absl::flat_hash_map<std::string, const pb::TensorEntry*>;

// The kept-column companions of `linear` (schema/tensors.h CompanionTable):
// both or neither, the table's role and encoding, shapes [rows, n] and [n]
// with 1 <= n < the linear's columns. Found companions leave `stored`.
absl::Status CheckCompanions(const pb::TensorEntry& linear, absl::string_view where,
                             StoredMap* stored) {
  int found = 0;
  int64_t n_kept = -1;
  std::string first_missing;
  for (const CompanionDef& c : CompanionTable()) {
    const std::string name = CompanionName(linear.name(), c.role);
    auto it = stored->find(name);
    if (it == stored->end()) {
      if (first_missing.empty()) first_missing = name;
      continue;
    }
    const pb::TensorEntry& e = *it->second;
    stored->erase(it);
    ++found;
    const int64_t n = e.shape_size() > 0 ? e.shape(e.shape_size() - 1) : 0;
    if (n_kept < 0) n_kept = n;
    const std::vector<int64_t> shape(e.shape().begin(), e.shape().end());
    const std::vector<int64_t> want = CompanionShape(c, TensorRows(linear), n_kept);
    if (e.role() != c.role || e.encoding() != c.encoding || shape != want || n_kept < 1 ||
        n_kept >= TensorCols(linear)) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": tensor '", name, "' must be ", pb::Encoding_Name(c.encoding), " ",
          pb::Role_Name(c.role), " of shape ", ShapeString(want), " with 1 <= ", n_kept, " < ",
          TensorCols(linear), " kept columns of '", linear.name(), "'; it is ",
          pb::Encoding_Name(e.encoding()), " ", pb::Role_Name(e.role()), " ",
          ShapeString(shape)));
    }
  }
  if (found > 0 && found < static_cast<int>(CompanionTable().size())) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": tensor '", first_missing,
                                                   "' is missing (the other companions of '",
                                                   linear.name(), "' are present)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckTensorsMatchHParams(const pb::ModelMetadata& md, absl::string_view where) {
  auto expected = ModelTensors(md.hparams());
  if (!expected.ok()) return Annotate(expected.status(), where);
  StoredMap stored;
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
    if (t.def->input != LinearInput::kNone) GLMQ_RETURN_IF_ERROR(CheckCompanions(e, where, &stored));
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

absl::Status CheckNoKeptColumns(const pb::ModelMetadata& md, absl::string_view where,
                                absl::string_view format) {
  for (const pb::TensorEntry& e : md.tensors()) {
    if (FindCompanion(e.role()) == nullptr) continue;
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": tensor '", e.name(), "' holds input columns kept at f16 (glmq quantize "
        "--keep-outliers), which ", format, " cannot represent; export a file quantized "
        "without --keep-outliers"));
  }
  return absl::OkStatus();
}

}  // namespace glmq
