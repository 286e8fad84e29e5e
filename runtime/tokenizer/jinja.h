// glmq's Jinja subset: enough of Jinja2 to render Hugging Face chat
// templates (tokenizer_config.json "chat_template") exactly as transformers
// does, i.e. with trim_blocks, lstrip_blocks, loop controls, tojson as
// json.dumps(ensure_ascii=False) and raise_exception.
//
// Supported: text, {{ }}, {# #}, whitespace control (- and +), {% raw %};
// if/elif/else, for (tuple targets, "if" filter, else, loop.*, break,
// continue), set (name, ns.attr, tuple unpacking, block form), macro,
// generation; literals (str, int, float, bool, none, list, dict),
// attributes, subscripts, slices, calls, filters, tests, the operators
// and precedence of Jinja (not, and, or, in, is, ==, <, +, -, *, /, //, %,
// **, ~, a if b else c). Filters, tests, methods and globals: jinja_builtins.cc.
// Anything else (include, extends, call blocks, unknown filters...) is an
// error naming the template line, never a silently different prompt.
// docs/chat.md describes the subset and how it is tested against Jinja2.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "runtime/tokenizer/jinja_value.h"

namespace glmq::jinja {

struct Node;

// A parsed template. Immutable, cheap to copy, thread-safe to render.
class Template {
 public:
  // Syntax errors name the line: "chat template line 3: ...".
  static absl::StatusOr<Template> Parse(absl::string_view source);

  // Renders with the given top-level variables (messages,
  // add_generation_prompt, ...). Text from the template is trusted; the
  // marks of string values carry through to the result.
  absl::StatusOr<MarkedText> Render(
      const std::vector<std::pair<std::string, Value>>& variables) const;

 private:
  std::shared_ptr<const std::vector<std::unique_ptr<Node>>> body_;
};

}  // namespace glmq::jinja
