// Quantization schemes: presets (int8, int4-g128, ...) and llama-quantize
// style --tensor-type rules ("REGEX=ENC[:GROUP]") that map canonical tensor
// names (specs/glm4-tensors.md) to an encoding. Rules are data: the first
// rule whose regex matches anywhere in the name wins; user rules come before
// the preset's. Norms and biases (rank-1 tensors) are never quantized;
// tensors no rule matches keep their source encoding.
//
// Patterns are RE2 syntax (Perl-like: \d, (?:...), classes, alternation;
// no backreferences or lookaround) and match in time linear in the name, so
// no pattern can hang quantize ('^(.*)*x$' backtracked for minutes in
// std::regex). A pattern is at most kMaxRulePatternBytes long and nests
// groups at most kMaxRuleNesting deep.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "schema/glmq.pb.h"

namespace re2 {
class RE2;
}

namespace glmq {

inline constexpr size_t kMaxRulePatternBytes = 1024;
inline constexpr int kMaxRuleNesting = 32;

struct PresetInfo {
  absl::string_view name;
  absl::string_view help;
};
const std::vector<PresetInfo>& AllPresets();

// Parses "PATTERN=ENC[:GROUP]" (ENC: q8, q4, q4a, f16, bf16, f32; GROUP:
// 0, 32, 64, 128, 256; default 32 for q8 and 128 for q4/q4a). The error
// names the bad part.
absl::StatusOr<pb::QuantRule> ParseTensorType(absl::string_view spec);

class QuantScheme {
 public:
  // `tensor_types`: --tensor-type arguments, in order. `n_layers` lets
  // presets target first/last layers. Errors: unknown preset (listing the
  // known ones), bad rule, bad regex.
  static absl::StatusOr<QuantScheme> Create(absl::string_view preset,
                                            const std::vector<std::string>& tensor_types,
                                            int64_t n_layers);

  // The encoding and group size for `entry` (name, role, shape, encoding
  // of the source). Returns a rule with encoding = entry.encoding() when
  // the tensor is kept as it is.
  pb::QuantRule Choose(const pb::TensorEntry& entry) const;

  const std::string& preset() const { return preset_; }
  // All rules in matching order, for QuantRecipe.rules.
  const std::vector<pb::QuantRule>& rules() const { return rules_; }

  // Every --tensor-type rule must decide at least one of `tensors`; the
  // error names the first rule that decides none, and why (its pattern
  // matches no tensor name, only vectors, or only tensors an earlier rule
  // already took).
  absl::Status CheckUserRulesUsed(const std::vector<pb::TensorEntry>& tensors) const;

  // The tensors of `tensors` a rule with a quantized encoding matches but
  // that keep their encoding because the tensor table marks them keep_dense
  // (schema/tensors.h: the vision position tables, CLS / boi / eoi): the
  // runtime reads them dense. For a message.
  std::vector<std::string> KeptDense(const std::vector<pb::TensorEntry>& tensors) const;

 private:
  // The index of the rule deciding `entry`, or -1 (kept as stored).
  int RuleIndex(const pb::TensorEntry& entry) const;
  std::string preset_;
  std::vector<pb::QuantRule> rules_;
  size_t n_user_rules_ = 0;  // rules_[0, n_user_rules_) came from --tensor-type
  std::vector<std::shared_ptr<const re2::RE2>> regexes_;
};

}  // namespace glmq
