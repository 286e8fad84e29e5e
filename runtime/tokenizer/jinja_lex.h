// Lexing for glmq's Jinja subset (internal to jinja*.cc): the template split
// into text and tags with Jinja's whitespace control applied, and the
// tokens of one tag's expression.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace glmq::jinja {

struct Piece {
  enum class Kind { kText, kOutput, kBlock };  // text, {{ ... }}, {% ... %}
  Kind kind;
  std::string content;  // text, or the tag's inside without delimiters and -/+ marks
  int line = 1;         // where the piece starts
};

// Splits a template as Jinja's lexer does with transformers' settings:
// newlines normalized to "\n", one trailing newline dropped, comments
// removed, {% raw %} blocks turned into text, "-" marks strip whitespace,
// trim_blocks drops the newline after a block or comment tag, lstrip_blocks
// strips spaces before one at the start of a line ("+" disables both).
absl::StatusOr<std::vector<Piece>> SplitTemplate(absl::string_view source);

struct Token {
  enum class Kind { kName, kInt, kFloat, kString, kOp, kEnd };
  Kind kind;
  std::string text;  // name, operator, or the decoded string literal
  int64_t int_value = 0;
  double float_value = 0;
  int line = 1;
};

// Tokens of an expression or statement (ends with one kEnd token).
absl::StatusOr<std::vector<Token>> TokenizeExpression(absl::string_view s, int line);

// "chat template line N: what".
absl::Status SyntaxError(int line, absl::string_view what);

}  // namespace glmq::jinja
