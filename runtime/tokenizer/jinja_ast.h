// Syntax tree of glmq's Jinja subset (internal to jinja*.cc). The parser
// (jinja_parse.cc) builds it, the renderer (jinja_render.cc) walks it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "runtime/tokenizer/jinja_value.h"

namespace glmq::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class Kind {
    kLiteral,   // value
    kName,      // name
    kList,      // args: items
    kDict,      // args: key, value, key, value, ...
    kAttr,      // args[0].name
    kItem,      // args[0][args[1]]
    kSlice,     // args[0][args[1]:args[2]:args[3]] (null parts omitted)
    kCall,      // args[0](args[1..] positional, then named)
    kFilter,    // args[0] | name(args[1..])
    kTest,      // args[0] is [not] name(args[1..]); op "not" when negated
    kUnary,     // op ("not", "-", "+") args[0]
    kBinary,    // args[0] op args[1]; op also "and", "or", "in", "not in"
    kCondition  // args[0] if args[1] else args[2] (args[2] may be null)
  };
  Kind kind;
  int line = 0;
  Value value;
  std::string name;  // kName, kAttr, kFilter, kTest
  std::string op;
  std::vector<ExprPtr> args;
  std::vector<std::string> named;  // names of the trailing named arguments (call, filter, test)
};

struct Node;
using Body = std::vector<std::unique_ptr<Node>>;

struct Node {
  enum class Kind {
    kText,      // text
    kOutput,    // {{ expr }}
    kIf,        // conditions[i] -> bodies[i]; a trailing extra body is the else
    kFor,       // for targets in expr [if filter]: bodies[0], else bodies[1]
    kSet,       // set targets[0][.attr] = expr (several targets: unpacking)
    kSetBlock,  // set targets[0] %} bodies[0] {% endset
    kMacro,     // macro name(params = defaults): bodies[0]
    kBreak,
    kContinue,
    kGeneration,  // transformers' {% generation %}: renders bodies[0]
  };
  Kind kind;
  int line = 0;
  std::string text;                 // kText; kMacro name; kSet attribute ("" if none)
  ExprPtr expr;                     // kOutput, kFor iterable, kSet value
  ExprPtr filter;                   // kFor "if" clause
  std::vector<ExprPtr> conditions;  // kIf
  std::vector<Body> bodies;
  std::vector<std::string> targets;  // kFor, kSet, kMacro params
  std::vector<ExprPtr> defaults;     // kMacro: per param, null when none
};

// Parses `source` with transformers' chat-template settings (trim_blocks,
// lstrip_blocks, no trailing newline kept).
absl::StatusOr<Body> ParseTemplate(absl::string_view source);

}  // namespace glmq::jinja
