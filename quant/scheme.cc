#include "quant/scheme.h"

#include "re2/re2.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/status.h"
#include "schema/encodings.h"
#include "schema/tensors.h"

namespace glmq {
namespace {

// The block linears, by role; their names come from the tensor table.
const std::vector<pb::Role> kBlockLinears = {pb::ROLE_ATTN_QKV, pb::ROLE_ATTN_OUTPUT,
                                             pb::ROLE_FFN_GATE_UP, pb::ROLE_FFN_DOWN};

pb::QuantRule Rule(std::string pattern, pb::Encoding e, int g) {
  pb::QuantRule r;
  r.set_pattern(std::move(pattern));
  r.set_encoding(e);
  r.set_group_size(g);
  return r;
}

// Preset rules. The policy of every preset: norms and biases (rank-1) stay
// in their source f32/bf16 (QuantScheme::Choose); the token embedding (a
// lookup table: the runtime dequantizes the looked-up rows) and the output
// projection (its error goes straight into the logits) are q8 with the
// preset's group size, unless a --tensor-type rule asks otherwise (e.g.
// '^token_embd\.weight$=bf16'); the block linears get the preset's encoding.
std::vector<pb::QuantRule> PresetRules(absl::string_view preset, int64_t n_layers) {
  using pb::ENCODING_Q4_ASYM, pb::ENCODING_Q4_SYM, pb::ENCODING_Q8_SYM;
  auto simple = [](pb::Encoding e, int g, int edge_g) {
    return std::vector<pb::QuantRule>{
        Rule(TensorPattern(pb::ROLE_TOKEN_EMBD), ENCODING_Q8_SYM, edge_g),
        Rule(TensorPattern(pb::ROLE_OUTPUT), ENCODING_Q8_SYM, edge_g),
        Rule(BlockTensorPattern("\\d+", kBlockLinears), e, g)};
  };
  if (preset == "int8" || preset == "int8-g32") return simple(ENCODING_Q8_SYM, 32, 32);
  if (preset == "int8-g128") return simple(ENCODING_Q8_SYM, 128, 128);
  if (preset == "int4-g128") return simple(ENCODING_Q4_SYM, 128, 128);
  if (preset == "int4-g32") return simple(ENCODING_Q4_SYM, 32, 32);
  if (preset == "int4a-g128") return simple(ENCODING_Q4_ASYM, 128, 128);
  if (preset == "int4a-g32") return simple(ENCODING_Q4_ASYM, 32, 32);
  if (preset == "int4-mix") {
    // The first and last layers' qkv and ffn_down are the most sensitive
    // (llama.cpp's Q4_K_M keeps more bits there too): q8 for them.
    std::string edge = absl::StrCat("0|", n_layers > 0 ? n_layers - 1 : 0);
    std::vector<pb::QuantRule> rules = {
        Rule(BlockTensorPattern(absl::StrCat("(", edge, ")"),
                                {pb::ROLE_ATTN_QKV, pb::ROLE_FFN_DOWN}),
             ENCODING_Q8_SYM, 128)};
    for (auto& r : simple(ENCODING_Q4_ASYM, 128, 128)) rules.push_back(r);
    return rules;
  }
  return {};
}

// Length and group nesting, checked before RE2 sees the pattern.
absl::Status CheckPatternSize(absl::string_view pattern) {
  if (pattern.size() > kMaxRulePatternBytes)
    return absl::InvalidArgumentError(absl::StrCat("tensor pattern of ", pattern.size(),
                                                   " bytes is over the limit of ",
                                                   kMaxRulePatternBytes));
  int depth = 0;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '\\') {
      ++i;  // an escaped character is never a group
    } else if (pattern[i] == '(' && ++depth > kMaxRuleNesting) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tensor pattern nests groups deeper than ", kMaxRuleNesting, " at byte ", i));
    } else if (pattern[i] == ')') {
      --depth;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const re2::RE2>> CompilePattern(const std::string& pattern) {
  GLMQ_RETURN_IF_ERROR(CheckPatternSize(pattern));
  re2::RE2::Options opt;
  opt.set_log_errors(false);
  opt.set_max_mem(int64_t{8} << 20);  // compiled program size (RE2's default)
  auto re = std::make_shared<const re2::RE2>(pattern, opt);
  if (!re->ok())
    return absl::InvalidArgumentError(absl::StrCat("bad tensor pattern '", pattern, "': ",
                                                   re->error()));
  return re;
}

}  // namespace

const std::vector<PresetInfo>& AllPresets() {
  static const std::vector<PresetInfo> presets = {
      {"int8", "q8 g32 everywhere (8.5 bits/weight); same as int8-g32"},
      {"int8-g32", "q8 g32 everywhere (8.5 bits/weight)"},
      {"int8-g128", "q8 g128 everywhere (8.125 bits/weight)"},
      {"int4-g128", "q4 g128 block linears, q8 g128 embedding/output"},
      {"int4-g32", "q4 g32 block linears, q8 g32 embedding/output"},
      {"int4a-g128", "q4a (scale+min) g128 block linears, q8 g128 embedding/output"},
      {"int4a-g32", "q4a g32 block linears, q8 g32 embedding/output"},
      {"int4-mix", "q8 g128 for qkv/ffn_down of the first and last layer, q4a g128 elsewhere"},
  };
  return presets;
}

absl::StatusOr<pb::QuantRule> ParseTensorType(absl::string_view spec) {
  const size_t eq = spec.rfind('=');
  if (eq == absl::string_view::npos || eq == 0 || eq + 1 == spec.size())
    return absl::InvalidArgumentError(
        absl::StrCat("--tensor-type '", spec, "': expected PATTERN=ENCODING[:GROUP]"));
  const absl::string_view pattern = spec.substr(0, eq);
  absl::string_view enc = spec.substr(eq + 1);
  int group = -1;
  if (const size_t colon = enc.find(':'); colon != absl::string_view::npos) {
    if (!absl::SimpleAtoi(enc.substr(colon + 1), &group) || !IsValidGroupSize(group))
      return absl::InvalidArgumentError(absl::StrCat("--tensor-type '", spec, "': group size '",
                                                     enc.substr(colon + 1),
                                                     "' (use 0, 32, 64, 128 or 256)"));
    enc = enc.substr(0, colon);
  }
  const EncodingTraits* t = FindEncodingByName(enc);
  if (t == nullptr || t->encoding == pb::ENCODING_I32)
    return absl::InvalidArgumentError(absl::StrCat("--tensor-type '", spec, "': encoding '", enc,
                                                   "' (use q8, q4, q4a, f16, bf16 or f32)"));
  if (!t->quantized && group > 0)
    return absl::InvalidArgumentError(
        absl::StrCat("--tensor-type '", spec, "': ", t->name, " takes no group size"));
  if (group < 0) group = !t->quantized ? 0 : t->value_bits == 8 ? 32 : 128;
  return Rule(std::string(pattern), t->encoding, group);
}

absl::StatusOr<QuantScheme> QuantScheme::Create(absl::string_view preset,
                                                const std::vector<std::string>& tensor_types,
                                                int64_t n_layers) {
  QuantScheme s;
  s.preset_ = std::string(preset);
  for (const std::string& tt : tensor_types) {
    GLMQ_ASSIGN_OR_RETURN(pb::QuantRule r, ParseTensorType(tt));
    s.rules_.push_back(std::move(r));
  }
  std::vector<pb::QuantRule> preset_rules = PresetRules(preset, n_layers);
  if (preset_rules.empty() && !(preset == "none" && !tensor_types.empty())) {
    std::vector<std::string> names;
    for (const auto& p : AllPresets()) names.emplace_back(p.name);
    return absl::InvalidArgumentError(absl::StrCat("unknown --scheme '", preset, "' (known: ",
                                                   absl::StrJoin(names, ", "),
                                                   "; or 'none' with --tensor-type rules)"));
  }
  s.n_user_rules_ = s.rules_.size();
  for (auto& r : preset_rules) s.rules_.push_back(std::move(r));
  for (const auto& r : s.rules_) {
    GLMQ_ASSIGN_OR_RETURN(std::shared_ptr<const re2::RE2> re, CompilePattern(r.pattern()));
    s.regexes_.push_back(std::move(re));
  }
  return s;
}

namespace {

bool QuantizedRule(const pb::QuantRule& r) {
  const EncodingTraits* t = FindEncoding(r.encoding());
  return t != nullptr && t->quantized;
}

}  // namespace

int QuantScheme::RuleIndex(const pb::TensorEntry& entry) const {
  if (entry.shape_size() < 2) return -1;  // norms, biases
  // The table's keep_dense tensors (position tables, CLS / boi / eoi) pass
  // over rules that would quantize them.
  const bool keep_dense = KeepsDenseEncoding(entry.name());
  for (size_t i = 0; i < rules_.size(); ++i) {
    if (keep_dense && QuantizedRule(rules_[i])) continue;
    if (re2::RE2::PartialMatch(entry.name(), *regexes_[i])) return static_cast<int>(i);
  }
  return -1;
}

std::vector<std::string> QuantScheme::KeptDense(const std::vector<pb::TensorEntry>& tensors) const {
  std::vector<std::string> out;
  for (const pb::TensorEntry& e : tensors) {
    if (e.shape_size() < 2 || !KeepsDenseEncoding(e.name())) continue;
    for (size_t i = 0; i < rules_.size(); ++i) {
      if (QuantizedRule(rules_[i]) && re2::RE2::PartialMatch(e.name(), *regexes_[i])) {
        out.push_back(e.name());
        break;
      }
    }
  }
  return out;
}

pb::QuantRule QuantScheme::Choose(const pb::TensorEntry& entry) const {
  const int i = RuleIndex(entry);
  return i >= 0 ? rules_[i] : Rule("", entry.encoding(), entry.group_size());
}

absl::Status QuantScheme::CheckUserRulesUsed(const std::vector<pb::TensorEntry>& tensors) const {
  std::vector<int> decided(n_user_rules_, 0);
  for (const pb::TensorEntry& e : tensors) {
    const int i = RuleIndex(e);
    if (i >= 0 && static_cast<size_t>(i) < n_user_rules_) ++decided[i];
  }
  for (size_t i = 0; i < n_user_rules_; ++i) {
    if (decided[i] > 0) continue;
    int names = 0, matrices = 0;
    std::vector<std::string> dense;  // matched, but kept dense for the runtime
    for (const pb::TensorEntry& e : tensors) {
      if (!re2::RE2::PartialMatch(e.name(), *regexes_[i])) continue;
      ++names;
      if (e.shape_size() < 2) continue;
      if (KeepsDenseEncoding(e.name()) && QuantizedRule(rules_[i])) {
        dense.push_back(e.name());
      } else {
        ++matrices;
      }
    }
    const std::string why =
        names == 0 ? "its pattern matches no tensor name of this model (names look like "
                     "'blk.0.attn_qkv.weight', specs/glm4-tensors.md)"
        : matrices == 0 && !dense.empty()
            ? absl::StrCat("it matches only tensors the runtime reads dense (",
                           absl::StrJoin(dense, ", "),
                           ": position tables, CLS / boi / eoi vectors), which never take a "
                           "quantized encoding")
        : matrices == 0
            ? absl::StrCat("it matches only ", names,
                           " vectors (norms, biases), which always keep their encoding")
            : absl::StrCat("every tensor it matches (", matrices, ") is taken by an earlier rule");
    return absl::InvalidArgumentError(absl::StrCat("--tensor-type '", rules_[i].pattern(), "=",
                                                   FindEncoding(rules_[i].encoding())->name,
                                                   "' decides no tensor: ", why));
  }
  return absl::OkStatus();
}

}  // namespace glmq
