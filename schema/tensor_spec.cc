// RenderTensorSpec: the tensor table as the Markdown of specs/glm4-tensors.md.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "schema/hparams.h"
#include "schema/tensors.h"

namespace glmq {
namespace {

absl::string_view DimText(Dim d) {
  switch (d) {
    case Dim::kOne:
      return "1";
    case Dim::kHidden:
      return "hidden";
    case Dim::kVocab:
      return "padded_vocab";
    case Dim::kQkv:
      return "(n_heads + 2·n_kv)·head_dim";
    case Dim::kQ:
      return "n_heads·head_dim";
    case Dim::kKv:
      return "n_kv·head_dim";
    case Dim::kFfn:
      return "ffn";
    case Dim::kFfn2:
      return "2·ffn";
    case Dim::kInvFreq:
      return "rope_dims/2";
    case Dim::kVHidden:
      return "v.hidden";
    case Dim::kV3Hidden:
      return "3·v.hidden";
    case Dim::kVMlp:
      return "v.mlp";
    case Dim::kVMerger:
      return "v.merger";
    case Dim::kVOut:
      return "v.out_hidden";
    case Dim::kVIn:
      return "v.in_channels";
    case Dim::kVPatch:
      return "v.patch";
    case Dim::kVTemporal:
      return "v.temporal_patch";
    case Dim::kVMerge:
      return "v.merge";
    case Dim::kVPositions:
      return "v.n_positions";
    case Dim::kVPatchIn:
      return "v.in_channels·v.temporal_patch·v.patch²";
    case Dim::kVMergeIn:
      return "v.hidden·v.merge²";
  }
  return "?";
}

std::string ShapeText(const std::vector<Dim>& shape) {
  std::vector<absl::string_view> dims;
  for (Dim d : shape) dims.push_back(DimText(d));
  return absl::StrCat("[", absl::StrJoin(dims, ", "), "]");
}

absl::string_view WhenText(When w) {
  switch (w) {
    case When::kAlways:
      return "";
    case When::kQkvBias:
      return "if qkv_bias";
    case When::kAttnOutputBias:
      return "if attn_output_bias";
    case When::kMlpBias:
      return "if mlp_bias";
    case When::kUntied:
      return "unless tied_embeddings";
    case When::kVisionQkvBias:
      return "if v.attention_bias";
  }
  return "";
}

constexpr pb::Layout kLayouts[] = {pb::LAYOUT_CHATGLM, pb::LAYOUT_GLM, pb::LAYOUT_GLM4,
                                   pb::LAYOUT_CHATGLM_VISION, pb::LAYOUT_GLM4V};

std::string LayoutsText(uint32_t mask) {
  std::vector<absl::string_view> names;
  for (pb::Layout l : kLayouts)
    if (mask & LayoutBit(l)) names.push_back(LayoutName(l));
  return absl::StrJoin(names, ", ");
}

std::string RoleText(pb::Role r) { return std::string(pb::Role_Name(r).substr(5)); }

std::string Cell(absl::string_view s) { return absl::StrReplaceAll(s, {{"|", "\\|"}}); }

void CanonicalTable(std::string* out) {
  absl::StrAppend(out, "| name | role | shape | layouts | when | notes |\n");
  absl::StrAppend(out, "|---|---|---|---|---|---|\n");
  for (const TensorDef& d : TensorTable()) {
    if (d.name.empty()) continue;
    absl::StrAppend(out, "| `", d.name, "` | ", RoleText(d.role), " | ", ShapeText(d.shape), " | ",
                    LayoutsText(RowLayouts(d)), " | ", WhenText(d.when), " | ", Cell(d.note),
                    " |\n");
  }
}

void LayoutTable(pb::Layout layout, std::string* out) {
  absl::StrAppend(out, "\n### Layout `", LayoutName(layout), "`\n\n");
  absl::StrAppend(out, "| HF name | shape | canonical |\n|---|---|---|\n");
  for (const TensorDef& d : TensorTable()) {
    for (const HfSource& s : d.hf) {
      if ((s.layouts & LayoutBit(layout)) == 0) continue;
      for (const HfPart& p : s.parts) {
        absl::StrAppend(
            out, "| `", HfName(p.pattern, -1, layout), "` | ", ShapeText(p.shape), " | ",
            d.name.empty() ? absl::StrCat("**ignored**: ", d.note) : absl::StrCat("`", d.name, "`"),
            s.parts.size() > 1 ? " (rows concatenated)" : "", " |\n");
      }
    }
  }
}

// The optional companions of every text linear (CompanionTable).
void CompanionsTable(std::string* out) {
  absl::StrAppend(out, "\n## Optional companions of a linear (kept input columns)\n\n",
                  "Any tensor of the table that reads an input (`attn_qkv`, `attn_output`, ",
                  "`ffn_gate_up`, `ffn_down`, `output`) may carry these, named after it with ",
                  "`weight` replaced by the suffix (`blk.{i}.attn_qkv.kept_cols`), both or ",
                  "neither, right after it (`glmq quantize --keep-outliers N`). Its output is ",
                  "then W·x' + kept_cols·x[idx], x' = x with the columns idx zeroed.\n\n");
  absl::StrAppend(out, "| suffix | role | encoding | shape | notes |\n|---|---|---|---|---|\n");
  for (const CompanionDef& c : CompanionTable()) {
    std::vector<absl::string_view> dims;
    for (CompanionDim d : c.shape)
      dims.push_back(d == CompanionDim::kLinearRows ? "rows of the linear" : "n_kept");
    absl::StrAppend(out, "| `", c.suffix, "` | ", RoleText(c.role), " | ",
                    pb::Encoding_Name(c.encoding).substr(9), " | [", absl::StrJoin(dims, ", "),
                    "] | ", Cell(c.note), " |\n");
  }
}

}  // namespace

std::string RenderTensorSpec() {
  std::string out = "## Canonical tensors\n\n";
  CanonicalTable(&out);
  CompanionsTable(&out);
  out += "\n## Hugging Face names per layout\n";
  for (pb::Layout l : kLayouts) LayoutTable(l, &out);
  return out;
}

}  // namespace glmq
