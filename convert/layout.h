// GLM-4 HF layouts as data: each layout is a table of rules "HF tensor
// name pattern(s) -> canonical tensor", with merges (several HF tensors
// concatenated by rows into one canonical tensor, e.g. q|k|v). The tables
// live in layout_tables.cc; the names, shapes and merge rules are normative
// in specs/glm4-tensors.md.
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

// A dimension of a tensor, in terms of the hyperparameters.
enum class Dim : uint8_t {
  kNone,     // 1-D tensor: no second dimension
  kHidden,   // hidden_size
  kVocab,    // padded_vocab_size
  kQkv,      // (n_heads + 2 n_kv_heads) head_dim
  kQ,        // n_heads head_dim
  kKv,       // n_kv_heads head_dim
  kFfn,      // ffn_hidden_size
  kFfn2,     // 2 ffn_hidden_size (gate|up)
  kInvFreq,  // rope_dims / 2 (chatglm's unused rotary_pos_emb.inv_freq)
};

// One HF tensor: name pattern ("{i}" = layer index) and shape [rows, cols]
// (cols kNone: 1-D [rows]).
struct HfPart {
  absl::string_view pattern;
  Dim rows;
  Dim cols;
};

// When a rule applies.
enum class When : uint8_t { kAlways, kQkvBias, kUntied };

// One canonical tensor built from `parts` concatenated by rows (one part:
// a plain rename). Canonical names with "{i}" are per layer.
struct TensorRule {
  pb::Role role;
  absl::string_view canonical;
  std::vector<HfPart> parts;
  When when;
};

struct LayoutTable {
  pb::Layout layout;
  std::vector<TensorRule> head;     // before the blocks (token_embd)
  std::vector<TensorRule> block;    // per layer, in this order
  std::vector<TensorRule> tail;     // after the blocks (output_norm, output)
  std::vector<HfPart> ignored;      // present in checkpoints, never used
};

// nullptr for layouts without a table (vision layouts).
const LayoutTable* FindLayoutTable(pb::Layout layout);

// A canonical tensor and the HF tensors it is made of. `entry` has name,
// role, layer, shape, encoding (= the source dtype) and source_names set;
// `sources` (same order as source_names) are the HF tensors' infos.
struct CanonicalTensor {
  pb::TensorEntry entry;
  std::vector<SafetensorsTensor> sources;
};

// Maps the HF tensors of a checkpoint onto canonical tensors, in canonical
// order (token_embd, blk.0.*, ..., output_norm, output). Errors (naming the
// tensor): vision layout, unknown/unmapped HF tensor, missing tensor, wrong
// shape, non-float dtype, parts of one merge with different dtypes.
absl::StatusOr<std::vector<CanonicalTensor>> MapHfTensors(
    const pb::HParams& hp, const std::vector<SafetensorsTensor>& hf);

// The HF tensors (name, shape; dtype unset) a checkpoint of this layout and
// these hparams holds, ignored ones included, in canonical order. For the
// synthesizer and the planner.
absl::StatusOr<std::vector<SafetensorsTensor>> ExpectedHfTensors(const pb::HParams& hp);

// Canonical-name helpers.
std::string LayerName(absl::string_view pattern, int layer);
absl::StatusOr<pb::Encoding> EncodingForDType(DType dtype, absl::string_view tensor);
absl::StatusOr<DType> DTypeForEncoding(pb::Encoding encoding, absl::string_view tensor);

}  // namespace glmq
