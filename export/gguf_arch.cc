#include "export/gguf_arch.h"

#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace glmq::gguf {
namespace {

// convert_hf_to_gguf.py registers ChatGLMModel for ChatGLMModel /
// ChatGLMForConditionalGeneration and GlmForCausalLM (arch "chatglm"; the
// pre-tokenizer hash of GLM-4 gives "chatglm-bpe"), and Glm4Model for
// Glm4ForCausalLM (arch "glm4", pre-tokenizer "glm4"). Each keeps the q/k/v
// storage of its HF layout: query_key_value -> attn_qkv, q/k/v_proj ->
// attn_q/attn_k/attn_v; llama.cpp loads either form for both archs.
const ArchInfo kArchs[] = {
    {pb::LAYOUT_CHATGLM, "chatglm", "chatglm-bpe", false, "ChatGLMModel", "chatglm", 2},
    {pb::LAYOUT_GLM, "chatglm", "chatglm-bpe", true, "GlmForCausalLM", "glm", 2},
    {pb::LAYOUT_GLM4, "glm4", "glm4", true, "Glm4ForCausalLM", "glm4", 4},
};

// Canonical role -> GGUF name inside "blk.N." (or global), llama-arch.cpp's
// LLM_TENSOR_NAMES. The gate|up rows stay fused as ffn_up (LLM_FFN_SWIGLU
// without a gate tensor splits the product in halves, gate first).
struct RoleRow {
  pb::Role role;
  absl::string_view canonical;  // suffix of the canonical name
  absl::string_view gguf;       // suffix of the GGUF name
  bool in_block;
};
const RoleRow kRoles[] = {
    {pb::ROLE_TOKEN_EMBD, "token_embd.weight", "token_embd.weight", false},
    {pb::ROLE_ATTN_NORM, "attn_norm.weight", "attn_norm.weight", true},
    {pb::ROLE_ATTN_QKV, "attn_qkv.weight", "attn_qkv.weight", true},
    {pb::ROLE_ATTN_QKV_BIAS, "attn_qkv.bias", "attn_qkv.bias", true},
    {pb::ROLE_ATTN_OUTPUT, "attn_output.weight", "attn_output.weight", true},
    {pb::ROLE_POST_ATTN_NORM, "post_attn_norm.weight", "post_attention_norm.weight", true},
    {pb::ROLE_FFN_NORM, "ffn_norm.weight", "ffn_norm.weight", true},
    {pb::ROLE_FFN_GATE_UP, "ffn_gate_up.weight", "ffn_up.weight", true},
    {pb::ROLE_FFN_DOWN, "ffn_down.weight", "ffn_down.weight", true},
    {pb::ROLE_POST_FFN_NORM, "post_ffn_norm.weight", "post_ffw_norm.weight", true},
    {pb::ROLE_OUTPUT_NORM, "output_norm.weight", "output_norm.weight", false},
    {pb::ROLE_OUTPUT, "output.weight", "output.weight", false},
};
// The split form of attn_qkv: part index = position in this list.
const absl::string_view kQkvParts[] = {"attn_q", "attn_k", "attn_v"};

std::string BlockName(int layer, absl::string_view suffix, bool in_block) {
  return in_block ? absl::StrCat("blk.", layer, ".", suffix) : std::string(suffix);
}

}  // namespace

const ArchInfo* ArchForLayout(pb::Layout layout) {
  for (const ArchInfo& a : kArchs) {
    if (a.layout == layout) return &a;
  }
  return nullptr;
}

const ArchInfo* ArchForGguf(absl::string_view arch, bool split_qkv) {
  for (const ArchInfo& a : kArchs) {
    if (a.arch == arch && (a.split_qkv == split_qkv || a.arch == "glm4")) return &a;
  }
  return nullptr;
}

absl::StatusOr<std::vector<GgufPart>> GgufPartsFor(const pb::TensorEntry& entry,
                                                   const pb::HParams& hp, const ArchInfo& arch) {
  const int64_t rows = entry.shape(0);
  for (const RoleRow& r : kRoles) {
    if (r.role != entry.role()) continue;
    const bool qkv = r.role == pb::ROLE_ATTN_QKV || r.role == pb::ROLE_ATTN_QKV_BIAS;
    if (!qkv || !arch.split_qkv) {
      return std::vector<GgufPart>{{BlockName(entry.layer(), r.gguf, r.in_block), 0, rows}};
    }
    const int64_t q = hp.n_heads() * hp.head_dim(), kv = hp.n_kv_heads() * hp.head_dim();
    if (q + 2 * kv != rows) {
      return absl::InvalidArgumentError(absl::StrCat("tensor '", entry.name(), "' has ", rows,
                                                     " rows, not q ", q, " + 2 x kv ", kv));
    }
    const absl::string_view kind = r.role == pb::ROLE_ATTN_QKV ? "weight" : "bias";
    const int64_t bounds[] = {0, q, q + kv, rows};
    std::vector<GgufPart> parts;
    for (int p = 0; p < 3; ++p) {
      parts.push_back({absl::StrCat("blk.", entry.layer(), ".", kQkvParts[p], ".", kind), bounds[p],
                       bounds[p + 1]});
    }
    return parts;
  }
  return absl::InvalidArgumentError(absl::StrCat("tensor '", entry.name(),
                                                 "' has a role GGUF export does not know (",
                                                 static_cast<int>(entry.role()), ")"));
}

absl::StatusOr<CanonicalOf> CanonicalForGguf(absl::string_view gguf_name) {
  CanonicalOf out;
  absl::string_view rest = gguf_name;
  if (absl::ConsumePrefix(&rest, "blk.")) {
    const size_t dot = rest.find('.');
    if (dot == absl::string_view::npos || !absl::SimpleAtoi(rest.substr(0, dot), &out.layer) ||
        out.layer < 0) {
      return absl::InvalidArgumentError(absl::StrCat("tensor '", gguf_name, "': bad block number"));
    }
    rest.remove_prefix(dot + 1);
  }
  const bool in_block = out.layer >= 0;
  for (int p = 0; p < 3; ++p) {
    for (absl::string_view kind : {"weight", "bias"}) {
      if (in_block && rest == absl::StrCat(kQkvParts[p], ".", kind)) {
        out.part = p;
        out.role = kind == "weight" ? pb::ROLE_ATTN_QKV : pb::ROLE_ATTN_QKV_BIAS;
        out.name = absl::StrCat("blk.", out.layer, ".attn_qkv.", kind);
        return out;
      }
    }
  }
  for (const RoleRow& r : kRoles) {
    if (r.gguf == rest && r.in_block == in_block) {
      out.role = r.role;
      out.name = BlockName(out.layer, r.canonical, r.in_block);
      return out;
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("tensor '", gguf_name, "' is not a GLM-4 tensor glmq knows"));
}

}  // namespace glmq::gguf
