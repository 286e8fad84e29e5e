#include "format/summary.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "core/checksum.h"
#include "format/entry_check.h"
#include "nlohmann/json.hpp"
#include "google/protobuf/util/json_util.h"
#include "schema/encodings.h"
#include "schema/tensors.h"

namespace glmq {

void BitsTally::Add(const pb::TensorEntry& e) {
  ++n_tensors;
  numel += TensorNumel(e);
  bytes += e.size();
}

double BitsPerWeight(const pb::TensorEntry& e) {
  BitsTally t;
  t.Add(e);
  return t.bits_per_weight();
}

std::string RoleName(pb::Role role) {
  if (!pb::Role_IsValid(role)) return absl::StrCat("role_", static_cast<int>(role));
  return absl::AsciiStrToLower(absl::StripPrefix(pb::Role_Name(role), "ROLE_"));
}

std::string EncodingName(pb::Encoding encoding) {
  const EncodingTraits* t = FindEncoding(encoding);
  if (t == nullptr) return absl::StrCat("encoding_", static_cast<int>(encoding));
  return std::string(t->name);
}

TensorSummary SummarizeTensors(const pb::ModelMetadata& metadata) {
  TensorSummary s;
  for (const pb::TensorEntry& e : metadata.tensors()) {
    if (FindCompanion(e.role()) != nullptr) {  // kept columns: bits of their linear's values
      for (BitsTally* t : {&s.all, &s.text}) {
        ++t->n_tensors;
        t->bytes += e.size();
      }
    } else {
      s.all.Add(e);
      if (e.role() != pb::ROLE_VISION) s.text.Add(e);
    }
    s.by_role[RoleName(e.role())].Add(e);
    s.by_encoding[EncodingName(e.encoding())].Add(e);
  }
  return s;
}

namespace {

// Proto3's JSON mapping writes uint64 as a decimal string; checksums read
// as the 16 hex digits the text output (and `verify`) shows.
void ChecksumsToHex(nlohmann::ordered_json* j) {
  if (j->is_array()) {
    for (auto& e : *j) ChecksumsToHex(&e);
    return;
  }
  if (!j->is_object()) return;
  for (auto it = j->begin(); it != j->end(); ++it) {
    uint64_t v;
    if (absl::EndsWith(it.key(), "xxh64") && it.value().is_string() &&
        absl::SimpleAtoi(it.value().get<std::string>(), &v)) {
      it.value() = HexU64(v);
    } else {
      ChecksumsToHex(&it.value());
    }
  }
}

}  // namespace

absl::StatusOr<std::string> MetadataToJson(const pb::ModelMetadata& metadata, bool pretty) {
  pb::ModelMetadata copy = metadata;
  for (pb::EmbeddedFile& f : *copy.mutable_tokenizer()->mutable_files()) f.clear_zstd_data();
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string out;
  const auto status = google::protobuf::util::MessageToJsonString(copy, &out, options);
  if (!status.ok())
    return absl::InternalError(absl::StrCat("metadata to JSON: ", status.ToString()));
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(out, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return absl::InternalError("metadata to JSON: unparsable output");
  ChecksumsToHex(&j);
  return j.dump(pretty ? 2 : -1);
}

}  // namespace glmq
