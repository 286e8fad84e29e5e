// How glmq's canonical GLM-4 model is named in llama.cpp's GGUF, as data:
// one row per text layout (llama.cpp architecture, pre-tokenizer, whether
// q/k/v are stored fused) and one row per tensor role (the GGUF name).
// Facts from llama.cpp's convert_hf_to_gguf.py (ChatGLMModel, Glm4Model),
// src/llama-arch.cpp and src/models/{chatglm,glm4}.cpp: docs/export.md.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "schema/glmq.pb.h"

namespace glmq::gguf {

struct ArchInfo {
  pb::Layout layout;
  absl::string_view arch;           // general.architecture
  absl::string_view pre_tokenizer;  // tokenizer.ggml.pre
  bool split_qkv;                   // attn_q/attn_k/attn_v instead of attn_qkv
  absl::string_view hf_architecture, hf_model_type;
  int norms_per_layer;
};

// nullptr for layouts llama.cpp cannot run as text models (vision layouts).
const ArchInfo* ArchForLayout(pb::Layout layout);
// The layout a GGUF file of `arch` describes (split: attn_q/k/v stored
// apart); nullptr if glmq cannot import it.
const ArchInfo* ArchForGguf(absl::string_view arch, bool split_qkv);

// One GGUF tensor made of rows [row_begin, row_end) of a canonical tensor
// (of values, for a 1-D tensor).
struct GgufPart {
  std::string name;
  int64_t row_begin = 0;
  int64_t row_end = 0;
};

// The GGUF tensor(s) of canonical `entry` (three for a split q|k|v).
absl::StatusOr<std::vector<GgufPart>> GgufPartsFor(const pb::TensorEntry& entry,
                                                   const pb::HParams& hp, const ArchInfo& arch);

// The canonical name, role and layer of a GGUF tensor name; `part` is 0, 1,
// 2 for attn_q / attn_k / attn_v (weight or bias), else -1. Error for a
// name glmq does not know.
struct CanonicalOf {
  std::string name;
  pb::Role role = pb::ROLE_UNSPECIFIED;
  int layer = -1;
  int part = -1;
};
absl::StatusOr<CanonicalOf> CanonicalForGguf(absl::string_view gguf_name);

}  // namespace glmq::gguf
