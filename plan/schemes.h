// Weight schemes the planner sizes: the quantize presets of quant/scheme.h
// (the same QuantScheme rules `glmq quantize` applies), plus "bf16" = every
// tensor as converted. Sizes come from quant/encodings.h (EncodedBytes),
// never from a bits-per-weight estimate.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "schema/glmq.pb.h"
#include "schema/tensors.h"

namespace glmq::plan {

// "bf16", "int8", "int4-g128", "int4-g32": the columns of the plan.
const std::vector<std::string>& PlannedSchemes();

struct WeightBytes {
  uint64_t language = 0;  // every non-vision tensor
  uint64_t vision = 0;    // role VISION
  uint64_t total() const { return language + vision; }
};

// Sum of EncodedBytes over `tensors` (all bf16 as converted) after applying
// quantize preset `scheme` ("bf16": none). Error names the preset or tensor.
absl::StatusOr<WeightBytes> SchemeWeightBytes(absl::string_view scheme,
                                              const std::vector<ModelTensor>& tensors,
                                              int64_t n_layers);

// The encoding and group size preset `scheme` gives tensor `t`.
absl::StatusOr<pb::QuantRule> ChooseEncoding(absl::string_view scheme, const ModelTensor& t,
                                             int64_t n_layers);

// Sum of entry.size over the tensors of a .glmq file's metadata.
WeightBytes FileWeightBytes(const pb::ModelMetadata& metadata);

}  // namespace glmq::plan
