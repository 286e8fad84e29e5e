// Summaries of a file's metadata for people and scripts: bits per weight
// overall, per role and per encoding (computed from the tensor entries, not
// trusted from the recipe), and the metadata as JSON. Used by
// `glmq inspect`; pure functions of the metadata, thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "schema/glmq.pb.h"

namespace glmq {

struct BitsTally {
  int n_tensors = 0;
  uint64_t numel = 0;  // logical values
  uint64_t bytes = 0;  // stored bytes (scales and mins included)
  // bytes * 8 / numel; 0 when there are no values.
  double bits_per_weight() const {
    return numel == 0 ? 0.0 : static_cast<double>(bytes) * 8.0 / static_cast<double>(numel);
  }
  void Add(const pb::TensorEntry& e);
};

struct TensorSummary {
  BitsTally all;
  BitsTally text;  // role != ROLE_VISION: what QuantRecipe.bits_per_weight covers
  // (all and text count the bytes of kept-column companions, not their values)
  std::map<std::string, BitsTally> by_role;      // key: RoleName()
  std::map<std::string, BitsTally> by_encoding;  // key: encoding name ("q4")
};

TensorSummary SummarizeTensors(const pb::ModelMetadata& metadata);

// bits per weight of one tensor (size * 8 / numel).
double BitsPerWeight(const pb::TensorEntry& e);
// "attn_qkv" for ROLE_ATTN_QKV; "role_<n>" for a value this build does not know.
std::string RoleName(pb::Role role);
// "q4" for ENCODING_Q4_SYM; "encoding_<n>" for an unknown value.
std::string EncodingName(pb::Encoding encoding);

// The metadata as JSON (proto3 JSON mapping, field names as in the .proto),
// with the compressed bytes of embedded files left out (sizes and checksums
// stay) and every *xxh64 field as 16 hex digits, as in the text output.
// Pretty-printed when `pretty`.
absl::StatusOr<std::string> MetadataToJson(const pb::ModelMetadata& metadata, bool pretty = true);

}  // namespace glmq
