// An HF checkpoint's tensors mapped onto canonical ones by the tensor table
// (schema/tensors.h): merges (several HF tensors concatenated by rows into
// one canonical tensor, e.g. q|k|v), shapes from config.json checked.
// Normative: specs/glm4-tensors.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "convert/safetensors.h"
#include "core/dtype.h"
#include "schema/glmq.pb.h"

namespace glmq {

// A canonical tensor and the HF tensors it is made of. `entry` has name,
// role, layer, shape, encoding (= the source dtype) and source_names set;
// `sources` (same order as source_names) are the HF tensors' infos.
struct CanonicalTensor {
  pb::TensorEntry entry;
  std::vector<SafetensorsTensor> sources;
};

// Maps the HF tensors of a checkpoint onto canonical tensors, in canonical
// order (token_embd, blk.0.*, ..., output_norm, output, then the vision
// tower's v.*; convolutions become [out, in * k...] matrices, the same bytes).
// Errors (naming the tensor): unknown/unmapped HF tensor, missing tensor,
// wrong shape, non-float dtype, parts of one merge with different dtypes.
absl::StatusOr<std::vector<CanonicalTensor>> MapHfTensors(
    const pb::HParams& hp, const std::vector<SafetensorsTensor>& hf);

// The HF tensors (name, shape; dtype bf16) a checkpoint of this layout and
// these hparams holds, ignored ones included, in canonical order, vision
// towers too. For the synthesizer and the planner.
absl::StatusOr<std::vector<SafetensorsTensor>> ExpectedHfTensors(const pb::HParams& hp);

absl::StatusOr<pb::Encoding> EncodingForDType(DType dtype, absl::string_view tensor);
absl::StatusOr<DType> DTypeForEncoding(pb::Encoding encoding, absl::string_view tensor);

}  // namespace glmq
