// Expression parser of glmq's Jinja subset (internal to jinja*.cc), by
// recursive descent with Jinja's precedence (lowest first): conditional,
// or, and, not, comparisons / in, + -, ~, * / // %, **, unary - +, then
// postfix (. [] ()) and filters / tests. The statement parser
// (jinja_statements.cc) drives it token by token.
#pragma once

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "runtime/tokenizer/jinja_ast.h"
#include "runtime/tokenizer/jinja_lex.h"

namespace glmq::jinja {

// Limits that keep an untrusted template (tokenizer_config.json) from
// exhausting the stack: the parser and the renderer recurse on the tree.
// Chat templates in the wild nest expressions < 10 deep in tags of < 200
// tokens.
inline constexpr size_t kMaxTagTokens = 4096;    // tokens in one {{ }} or {% %}
inline constexpr int kMaxExprNesting = 64;       // (), [], {}, not / unary chains
inline constexpr int kMaxExprDepth = 256;        // depth of one expression's tree

class ExprParser {
 public:
  explicit ExprParser(std::vector<Token> tokens) : t_(std::move(tokens)) {}

  const Token& Peek(size_t ahead = 0) const { return t_[std::min(i_ + ahead, t_.size() - 1)]; }
  bool AtEnd() const { return Peek().kind == Token::Kind::kEnd; }
  bool IsOp(absl::string_view op, size_t ahead = 0) const {
    return Peek(ahead).kind == Token::Kind::kOp && Peek(ahead).text == op;
  }
  bool IsName(absl::string_view name, size_t ahead = 0) const {
    return Peek(ahead).kind == Token::Kind::kName && Peek(ahead).text == name;
  }
  bool TakeOp(absl::string_view op) { return IsOp(op) && (++i_, true); }
  bool TakeName(absl::string_view name) { return IsName(name) && (++i_, true); }
  absl::Status Error(absl::string_view what) const {
    const Token& t = Peek();
    const std::string near = t.kind == Token::Kind::kEnd ? "end of tag" : "'" + t.text + "'";
    return SyntaxError(t.line, absl::StrCat(what, " (at ", near, ")"));
  }
  absl::Status ExpectOp(absl::string_view op) {
    return TakeOp(op) ? absl::OkStatus() : Error(absl::StrCat("expected '", op, "'"));
  }
  absl::StatusOr<std::string> ExpectName() {
    if (Peek().kind != Token::Kind::kName) return Error("expected a name");
    return t_[i_++].text;
  }
  absl::Status ExpectEnd() { return AtEnd() ? absl::OkStatus() : Error("unexpected token"); }

  // An expression; `condexpr` false stops before a trailing "if" (for loops).
  absl::StatusOr<ExprPtr> Expression(bool condexpr = true);
  // One or more comma-separated expressions (a list when several).
  absl::StatusOr<ExprPtr> Tuple(bool condexpr = true);

 private:
  ExprPtr Make(Expr::Kind kind, int line) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = line;
    return e;
  }
  ExprPtr Binary(std::string op, ExprPtr a, ExprPtr b) {
    ExprPtr e = Make(Expr::Kind::kBinary, a->line);
    e->op = std::move(op);
    e->args.push_back(std::move(a));
    e->args.push_back(std::move(b));
    return e;
  }
  absl::StatusOr<ExprPtr> ExpressionInner(bool condexpr);
  absl::StatusOr<ExprPtr> Or();
  absl::StatusOr<ExprPtr> And();
  absl::StatusOr<ExprPtr> Not();
  absl::StatusOr<ExprPtr> Compare();
  absl::StatusOr<ExprPtr> Math1();
  absl::StatusOr<ExprPtr> Concat();
  absl::StatusOr<ExprPtr> Math2();
  absl::StatusOr<ExprPtr> Pow();
  absl::StatusOr<ExprPtr> Unary(bool with_filter);
  absl::StatusOr<ExprPtr> Primary();
  absl::StatusOr<ExprPtr> Postfix(ExprPtr e);
  absl::StatusOr<ExprPtr> FilterOrTest(ExprPtr e);
  absl::StatusOr<ExprPtr> Subscript(ExprPtr e);
  // "(" args ")" into e->args / e->named; the "(" is current.
  absl::Status CallArgs(Expr* e);

  // Counts one level of parser recursion; error past kMaxExprNesting.
  absl::Status Nest();

  std::vector<Token> t_;
  size_t i_ = 0;
  int nesting_ = 0;
};

// Depth of the tree under `e` (1: a leaf), walked without recursion.
int ExprDepth(const Expr& e);

}  // namespace glmq::jinja
