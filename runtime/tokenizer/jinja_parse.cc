// Expressions of glmq's Jinja subset; see jinja_parse.h.
#include "runtime/tokenizer/jinja_parse.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/status.h"

namespace glmq::jinja {

absl::Status ExprParser::Nest() {
  if (t_.size() > kMaxTagTokens) {
    return SyntaxError(Peek().line, absl::StrCat("a tag of over ", kMaxTagTokens, " tokens"));
  }
  if (++nesting_ > kMaxExprNesting) {
    return Error(absl::StrCat("expression nested over ", kMaxExprNesting, " levels deep"));
  }
  return absl::OkStatus();
}

int ExprDepth(const Expr& root) {
  int deepest = 0;
  std::vector<std::pair<const Expr*, int>> stack = {{&root, 1}};
  while (!stack.empty()) {
    const auto [e, d] = stack.back();
    stack.pop_back();
    deepest = std::max(deepest, d);
    for (const ExprPtr& a : e->args) {
      if (a != nullptr) stack.emplace_back(a.get(), d + 1);
    }
  }
  return deepest;
}

absl::StatusOr<ExprPtr> ExprParser::Expression(bool condexpr) {
  GLMQ_RETURN_IF_ERROR(Nest());
  absl::StatusOr<ExprPtr> e = ExpressionInner(condexpr);
  --nesting_;
  if (e.ok() && ExprDepth(**e) > kMaxExprDepth) {
    return Error(absl::StrCat("expression over ", kMaxExprDepth, " levels deep"));
  }
  return e;
}

absl::StatusOr<ExprPtr> ExprParser::ExpressionInner(bool condexpr) {
  GLMQ_ASSIGN_OR_RETURN(ExprPtr e, Or());
  while (condexpr && TakeName("if")) {
    ExprPtr c = Make(Expr::Kind::kCondition, e->line);
    c->args.push_back(std::move(e));
    GLMQ_ASSIGN_OR_RETURN(ExprPtr cond, Or());
    c->args.push_back(std::move(cond));
    if (TakeName("else")) {
      GLMQ_ASSIGN_OR_RETURN(ExprPtr other, Or());
      c->args.push_back(std::move(other));
    } else {
      c->args.push_back(nullptr);
    }
    e = std::move(c);
  }
  return e;
}

absl::StatusOr<ExprPtr> ExprParser::Tuple(bool condexpr) {
  GLMQ_ASSIGN_OR_RETURN(ExprPtr first, Expression(condexpr));
  if (!IsOp(",")) return first;
  ExprPtr list = Make(Expr::Kind::kList, first->line);
  list->args.push_back(std::move(first));
  while (TakeOp(",")) {
    if (AtEnd() || IsName("if") || IsOp(")")) break;
    GLMQ_ASSIGN_OR_RETURN(ExprPtr e, Expression(condexpr));
    list->args.push_back(std::move(e));
  }
  return list;
}

absl::StatusOr<ExprPtr> ExprParser::Or() {
  GLMQ_ASSIGN_OR_RETURN(ExprPtr e, And());
  while (TakeName("or")) {
    GLMQ_ASSIGN_OR_RETURN(ExprPtr r, And());
    e = Binary("or", std::move(e), std::move(r));
  }
  return e;
}

absl::StatusOr<ExprPtr> ExprParser::And() {
  GLMQ_ASSIGN_OR_RETURN(ExprPtr e, Not());
  while (TakeName("and")) {
    GLMQ_ASSIGN_OR_RETURN(ExprPtr r, Not());
    e = Binary("and", std::move(e), std::move(r));
  }
  return e;
}

absl::StatusOr<ExprPtr> ExprParser::Not() {
  if (IsName("not")) {
    const int line = Peek().line;
    ++i_;
    GLMQ_RETURN_IF_ERROR(Nest());
    absl::StatusOr<ExprPtr> operand = Not();
    --nesting_;
    if (!operand.ok()) return operand.status();
    ExprPtr e = Make(Expr::Kind::kUnary, line);
    e->op = "not";
    e->args.push_back(*std::move(operand));
    return e;
  }
  return Compare();
}

absl::StatusOr<ExprPtr> ExprParser::Compare() {
  GLMQ_ASSIGN_OR_RETURN(ExprPtr e, Math1());
  bool compared = false;
  while (true) {
    std::string op;
    if (IsOp("==") || IsOp("!=") || IsOp("<") || IsOp("<=") || IsOp(">") || IsOp(">=")) {
      op = t_[i_++].text;
    } else if (TakeName("in")) {
      op = "in";
    } else if (IsName("not") && IsName("in", 1)) {
      i_ += 2;
      op = "not in";
    } else {
      return e;
    }
    if (compared) return Error("chained comparisons (a < b < c) are not supported");
    compared = true;
    GLMQ_ASSIGN_OR_RETURN(ExprPtr r, Math1());
    e = Binary(op, std::move(e), std::move(r));
  }
}

absl::StatusOr<ExprPtr> ExprParser::Math1() {
  GLMQ_ASSIGN_OR_RETURN(ExprPtr e, Concat());
  while (IsOp("+") || IsOp("-")) {
    const std::string op = t_[i_++].text;
    GLMQ_ASSIGN_OR_RETURN(ExprPtr r, Concat());
    e = Binary(op, std::move(e), std::move(r));
  }
  return e;
}

absl::StatusOr<ExprPtr> ExprParser::Concat() {
  GLMQ_ASSIGN_OR_RETURN(ExprPtr e, Math2());
  while (TakeOp("~")) {
    GLMQ_ASSIGN_OR_RETURN(ExprPtr r, Math2());
    e = Binary("~", std::move(e), std::move(r));
  }
  return e;
}

absl::StatusOr<ExprPtr> ExprParser::Math2() {
  GLMQ_ASSIGN_OR_RETURN(ExprPtr e, Pow());
  while (IsOp("*") || IsOp("/") || IsOp("//") || IsOp("%")) {
    const std::string op = t_[i_++].text;
    GLMQ_ASSIGN_OR_RETURN(ExprPtr r, Pow());
    e = Binary(op, std::move(e), std::move(r));
  }
  return e;
}

absl::StatusOr<ExprPtr> ExprParser::Pow() {
  GLMQ_ASSIGN_OR_RETURN(ExprPtr e, Unary(true));
  while (TakeOp("**")) {
    GLMQ_ASSIGN_OR_RETURN(ExprPtr r, Unary(true));
    e = Binary("**", std::move(e), std::move(r));
  }
  return e;
}

absl::StatusOr<ExprPtr> ExprParser::Unary(bool with_filter) {
  ExprPtr e;
  if (IsOp("-") || IsOp("+")) {
    e = Make(Expr::Kind::kUnary, Peek().line);
    e->op = t_[i_++].text;
    GLMQ_RETURN_IF_ERROR(Nest());
    absl::StatusOr<ExprPtr> operand = Unary(false);
    --nesting_;
    if (!operand.ok()) return operand.status();
    e->args.push_back(*std::move(operand));
  } else {
    GLMQ_ASSIGN_OR_RETURN(e, Primary());
  }
  GLMQ_ASSIGN_OR_RETURN(e, Postfix(std::move(e)));
  if (with_filter) return FilterOrTest(std::move(e));
  return e;
}

absl::StatusOr<ExprPtr> ExprParser::Primary() {
  const Token& t = Peek();
  ExprPtr e = Make(Expr::Kind::kLiteral, t.line);
  switch (t.kind) {
    case Token::Kind::kName:
      ++i_;
      if (t.text == "true" || t.text == "True")
        e->value = Value::Bool(true);
      else if (t.text == "false" || t.text == "False")
        e->value = Value::Bool(false);
      else if (t.text == "none" || t.text == "None")
        e->value = Value::None();
      else {
        e->kind = Expr::Kind::kName;
        e->name = t.text;
      }
      return e;
    case Token::Kind::kInt:
      ++i_;
      e->value = Value::Int(t.int_value);
      return e;
    case Token::Kind::kFloat:
      ++i_;
      e->value = Value::Float(t.float_value);
      return e;
    case Token::Kind::kString: {
      std::string s;
      while (Peek().kind == Token::Kind::kString) s += t_[i_++].text;  // "a" "b" concatenates
      e->value = Value::String(std::move(s));
      return e;
    }
    case Token::Kind::kOp:
      break;
    case Token::Kind::kEnd:
      return Error("expected an expression");
  }
  if (TakeOp("(")) {
    if (TakeOp(")")) {
      e->kind = Expr::Kind::kList;  // () is an empty tuple
      return e;
    }
    GLMQ_ASSIGN_OR_RETURN(ExprPtr inner, Tuple());
    GLMQ_RETURN_IF_ERROR(ExpectOp(")"));
    return inner;
  }
  if (TakeOp("[")) {
    e->kind = Expr::Kind::kList;
    while (!TakeOp("]")) {
      if (!e->args.empty()) GLMQ_RETURN_IF_ERROR(ExpectOp(","));
      if (TakeOp("]")) break;  // trailing comma
      GLMQ_ASSIGN_OR_RETURN(ExprPtr item, Expression());
      e->args.push_back(std::move(item));
    }
    return e;
  }
  if (TakeOp("{")) {
    e->kind = Expr::Kind::kDict;
    while (!TakeOp("}")) {
      if (!e->args.empty()) GLMQ_RETURN_IF_ERROR(ExpectOp(","));
      if (TakeOp("}")) break;
      GLMQ_ASSIGN_OR_RETURN(ExprPtr key, Expression());
      GLMQ_RETURN_IF_ERROR(ExpectOp(":"));
      GLMQ_ASSIGN_OR_RETURN(ExprPtr value, Expression());
      e->args.push_back(std::move(key));
      e->args.push_back(std::move(value));
    }
    return e;
  }
  return Error("expected an expression");
}

absl::StatusOr<ExprPtr> ExprParser::Postfix(ExprPtr e) {
  while (true) {
    if (TakeOp(".")) {
      ExprPtr a = Make(Expr::Kind::kAttr, e->line);
      if (Peek().kind == Token::Kind::kInt) {  // tuple.0
        a->kind = Expr::Kind::kItem;
        a->args.push_back(std::move(e));
        ExprPtr idx = Make(Expr::Kind::kLiteral, a->line);
        idx->value = Value::Int(t_[i_++].int_value);
        a->args.push_back(std::move(idx));
      } else {
        GLMQ_ASSIGN_OR_RETURN(a->name, ExpectName());
        a->args.push_back(std::move(e));
      }
      e = std::move(a);
    } else if (IsOp("[")) {
      GLMQ_ASSIGN_OR_RETURN(e, Subscript(std::move(e)));
    } else if (IsOp("(")) {
      ExprPtr c = Make(Expr::Kind::kCall, e->line);
      c->args.push_back(std::move(e));
      GLMQ_RETURN_IF_ERROR(CallArgs(c.get()));
      e = std::move(c);
    } else {
      return e;
    }
  }
}

absl::StatusOr<ExprPtr> ExprParser::Subscript(ExprPtr e) {
  GLMQ_RETURN_IF_ERROR(ExpectOp("["));
  std::vector<ExprPtr> parts(1);
  bool slice = false;
  while (!IsOp("]")) {
    if (TakeOp(":")) {
      slice = true;
      if (parts.size() == 3) return Error("too many ':' in a slice");
      parts.emplace_back();
      continue;
    }
    if (parts.back() != nullptr) return Error("expected ']'");
    GLMQ_ASSIGN_OR_RETURN(parts.back(), Expression());
  }
  ++i_;  // ]
  ExprPtr s = Make(slice ? Expr::Kind::kSlice : Expr::Kind::kItem, e->line);
  s->args.push_back(std::move(e));
  if (!slice && parts[0] == nullptr) return Error("empty subscript");
  parts.resize(slice ? 3 : 1);
  for (ExprPtr& p : parts) s->args.push_back(std::move(p));
  return s;
}

absl::Status ExprParser::CallArgs(Expr* e) {
  GLMQ_RETURN_IF_ERROR(ExpectOp("("));
  bool first = true;
  while (!TakeOp(")")) {
    if (!first) GLMQ_RETURN_IF_ERROR(ExpectOp(","));
    first = false;
    if (TakeOp(")")) break;
    if (IsOp("*") || IsOp("**")) return Error("*args / **kwargs are not supported");
    if (Peek().kind == Token::Kind::kName && IsOp("=", 1)) {
      e->named.push_back(t_[i_].text);
      i_ += 2;
    } else if (!e->named.empty()) {
      return Error("positional argument after a named one");
    }
    GLMQ_ASSIGN_OR_RETURN(ExprPtr a, Expression());
    e->args.push_back(std::move(a));
  }
  return absl::OkStatus();
}

absl::StatusOr<ExprPtr> ExprParser::FilterOrTest(ExprPtr e) {
  while (true) {
    if (TakeOp("|")) {
      ExprPtr f = Make(Expr::Kind::kFilter, e->line);
      GLMQ_ASSIGN_OR_RETURN(f->name, ExpectName());
      f->args.push_back(std::move(e));
      if (IsOp("(")) GLMQ_RETURN_IF_ERROR(CallArgs(f.get()));
      e = std::move(f);
    } else if (TakeName("is")) {
      ExprPtr t = Make(Expr::Kind::kTest, e->line);
      if (TakeName("not")) t->op = "not";
      GLMQ_ASSIGN_OR_RETURN(t->name, ExpectName());
      t->args.push_back(std::move(e));
      if (IsOp("(")) {
        GLMQ_RETURN_IF_ERROR(CallArgs(t.get()));
      } else if (Peek().kind == Token::Kind::kInt || Peek().kind == Token::Kind::kFloat ||
                 Peek().kind == Token::Kind::kString ||
                 (Peek().kind == Token::Kind::kName && !IsName("else") && !IsName("and") &&
                  !IsName("or") && !IsName("if") && !IsName("is") && !IsName("in") &&
                  !IsName("not"))) {
        GLMQ_ASSIGN_OR_RETURN(ExprPtr arg, Primary());  // "is divisibleby 3", "is sameas none"
        t->args.push_back(std::move(arg));
      }
      e = std::move(t);
    } else if (IsOp("(")) {
      ExprPtr c = Make(Expr::Kind::kCall, e->line);
      c->args.push_back(std::move(e));
      GLMQ_RETURN_IF_ERROR(CallArgs(c.get()));
      e = std::move(c);
    } else {
      return e;
    }
  }
}

}  // namespace glmq::jinja
