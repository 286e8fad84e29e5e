// The renderer of glmq's Jinja subset: walks the syntax tree with a stack of
// scopes (a for-loop iteration and a macro call each open one; `set` writes
// to the innermost, as Jinja's scoping does).
#include <algorithm>
#include <limits>
#include <unordered_map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "runtime/tokenizer/jinja.h"
#include "runtime/tokenizer/jinja_ast.h"
#include "runtime/tokenizer/jinja_builtins.h"

namespace glmq::jinja {
namespace {

constexpr size_t kMaxOutputBytes = size_t{64} << 20;
constexpr int kMaxCallDepth = 64;
// Expressions one render may evaluate plus loop items: GLM-4's template
// takes about 30 per message (a million covers 30,000 messages); nested
// loops over range() in an untrusted template would run for hours.
constexpr int64_t kMaxSteps = 1'000'000;

enum class Flow { kNormal, kBreak, kContinue };

absl::Status AtLine(int line, const absl::Status& s) {
  if (s.ok() || absl::StartsWith(s.message(), "chat template line")) return s;
  return absl::Status(s.code(), absl::StrCat("chat template line ", line, ": ", s.message()));
}

class Renderer {
 public:
  explicit Renderer(const std::vector<std::pair<std::string, Value>>& variables) {
    frames_.emplace_back();
    for (const auto& [k, v] : variables) frames_.back()[k] = v;
  }

  absl::StatusOr<Flow> Exec(const Body& body, MarkedText* out);

 private:
  Value Lookup(const std::string& name) const {
    for (auto it = frames_.rbegin(); it != frames_.rend(); ++it) {
      auto found = it->find(name);
      if (found != it->end()) return found->second;
    }
    Value g = Global(name);
    return g.is_undefined() ? Value::Undefined(name) : g;
  }
  absl::StatusOr<Value> Eval(const Expr& e);
  absl::StatusOr<Value> EvalInner(const Expr& e);
  absl::StatusOr<CallArgs> EvalArgs(const Expr& e, size_t first);
  absl::StatusOr<Value> EvalBinary(const Expr& e);
  absl::StatusOr<Value> EvalCall(const Expr& e);
  absl::StatusOr<Value> EvalUnary(const Expr& e);
  absl::StatusOr<Flow> ExecNode(const Node& n, MarkedText* out);
  absl::StatusOr<Flow> ExecFor(const Node& n, MarkedText* out);
  absl::Status ExecSet(const Node& n, const Value& v);
  absl::Status CheckStorable(const Value& v, const Dict* ns, int depth);
  absl::Status Bind(const std::vector<std::string>& targets, const Value& v, int line);
  Value MakeMacro(const Node& n);

  std::vector<std::unordered_map<std::string, Value>> frames_;
  int depth_ = 0;
  int64_t steps_ = 0;  // expressions evaluated
  int64_t walked_ = 0;  // value nodes walked by CheckStorable
};

absl::StatusOr<Value> Renderer::Eval(const Expr& e) {
  if (++steps_ > kMaxSteps) {
    return AtLine(e.line, absl::ResourceExhaustedError(absl::StrCat(
                              "the template ran over ", kMaxSteps, " steps (a runaway loop?)")));
  }
  absl::StatusOr<Value> v = EvalInner(e);
  if (!v.ok()) return AtLine(e.line, v.status());
  return v;
}

absl::StatusOr<CallArgs> Renderer::EvalArgs(const Expr& e, size_t first) {
  CallArgs args;
  const size_t n_pos = e.args.size() - e.named.size();
  for (size_t i = first; i < e.args.size(); ++i) {
    GLMQ_ASSIGN_OR_RETURN(Value v, Eval(*e.args[i]));
    if (i < n_pos)
      args.positional.push_back(std::move(v));
    else
      args.named.emplace_back(e.named[i - n_pos], std::move(v));
  }
  return args;
}

absl::StatusOr<Value> Renderer::EvalBinary(const Expr& e) {
  GLMQ_ASSIGN_OR_RETURN(Value a, Eval(*e.args[0]));
  if (e.op == "and") return a.Truthy() ? Eval(*e.args[1]) : a;
  if (e.op == "or") return a.Truthy() ? a : Eval(*e.args[1]);
  GLMQ_ASSIGN_OR_RETURN(Value b, Eval(*e.args[1]));
  if (e.op == "~") {
    MarkedText t = ToText(a);
    if (t.text.size() > kMaxStringBytes) return absl::InvalidArgumentError("string over 64 MiB");
    t.Append(ToText(b));
    return Value::Text(std::move(t));
  }
  return BinaryOp(e.op, a, b);
}

absl::StatusOr<Value> Renderer::EvalCall(const Expr& e) {
  GLMQ_ASSIGN_OR_RETURN(Value fn, Eval(*e.args[0]));
  if (fn.is_undefined() && e.args[0]->kind == Expr::Kind::kAttr) {
    GLMQ_ASSIGN_OR_RETURN(Value obj, Eval(*e.args[0]->args[0]));
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported ", obj.TypeName(), " method '", e.args[0]->name, "'"));
  }
  if (!fn.is_function()) {
    return absl::InvalidArgumentError(
        fn.is_undefined() ? absl::StrCat("'", fn.name(), "' is undefined (not a function)")
                          : absl::StrCat("a ", fn.TypeName(), " is not callable"));
  }
  GLMQ_ASSIGN_OR_RETURN(CallArgs args, EvalArgs(e, 1));
  if (++depth_ > kMaxCallDepth) return absl::InvalidArgumentError("calls nested too deeply");
  absl::StatusOr<Value> r = fn.function()(args);
  --depth_;
  return r;
}

absl::StatusOr<Value> Renderer::EvalUnary(const Expr& e) {
  GLMQ_ASSIGN_OR_RETURN(Value v, Eval(*e.args[0]));
  if (e.op == "not") return Value::Bool(!v.Truthy());
  if (!v.is_number()) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad operand type for unary ", e.op, ": '", v.TypeName(), "'"));
  }
  if (e.op == "+") return v.is_bool() ? Value::Int(v.AsInt()) : v;
  if (v.kind() == Value::Kind::kFloat) return Value::Float(-v.AsDouble());
  if (v.AsInt() == std::numeric_limits<int64_t>::min()) {
    return absl::InvalidArgumentError("integer overflow in unary -");
  }
  return Value::Int(-v.AsInt());
}

absl::StatusOr<Value> Renderer::EvalInner(const Expr& e) {
  switch (e.kind) {
    case Expr::Kind::kLiteral:
      return e.value;
    case Expr::Kind::kName:
      return Lookup(e.name);
    case Expr::Kind::kList: {
      List items;
      for (const ExprPtr& a : e.args) {
        GLMQ_ASSIGN_OR_RETURN(Value v, Eval(*a));
        items.push_back(std::move(v));
      }
      return Value::MakeList(std::move(items));
    }
    case Expr::Kind::kDict: {
      auto d = std::make_shared<Dict>();
      for (size_t i = 0; i < e.args.size(); i += 2) {
        GLMQ_ASSIGN_OR_RETURN(Value k, Eval(*e.args[i]));
        if (!k.is_string()) return absl::InvalidArgumentError("dict keys must be strings");
        d->keys_trusted = d->keys_trusted && k.text().AllTrusted();
        GLMQ_ASSIGN_OR_RETURN(Value v, Eval(*e.args[i + 1]));
        d->Set(k.str(), std::move(v));
      }
      return Value::MakeDict(std::move(d));
    }
    case Expr::Kind::kAttr: {
      GLMQ_ASSIGN_OR_RETURN(Value obj, Eval(*e.args[0]));
      return GetAttr(obj, e.name);
    }
    case Expr::Kind::kItem: {
      GLMQ_ASSIGN_OR_RETURN(Value obj, Eval(*e.args[0]));
      GLMQ_ASSIGN_OR_RETURN(Value key, Eval(*e.args[1]));
      return GetItem(obj, key);
    }
    case Expr::Kind::kSlice: {
      GLMQ_ASSIGN_OR_RETURN(Value obj, Eval(*e.args[0]));
      Value parts[3];
      for (int i = 0; i < 3; ++i) {
        if (e.args[i + 1] != nullptr) {
          GLMQ_ASSIGN_OR_RETURN(parts[i], Eval(*e.args[i + 1]));
        }
      }
      return GetSlice(obj, parts[0], parts[1], parts[2]);
    }
    case Expr::Kind::kCall:
      return EvalCall(e);
    case Expr::Kind::kFilter: {
      GLMQ_ASSIGN_OR_RETURN(Value v, Eval(*e.args[0]));
      GLMQ_ASSIGN_OR_RETURN(CallArgs args, EvalArgs(e, 1));
      return ApplyFilter(e.name, v, args);
    }
    case Expr::Kind::kTest: {
      GLMQ_ASSIGN_OR_RETURN(Value v, Eval(*e.args[0]));
      GLMQ_ASSIGN_OR_RETURN(CallArgs args, EvalArgs(e, 1));
      GLMQ_ASSIGN_OR_RETURN(bool r, ApplyTest(e.name, v, args));
      return Value::Bool(e.op == "not" ? !r : r);
    }
    case Expr::Kind::kUnary:
      return EvalUnary(e);
    case Expr::Kind::kBinary:
      return EvalBinary(e);
    case Expr::Kind::kCondition: {
      GLMQ_ASSIGN_OR_RETURN(Value c, Eval(*e.args[1]));
      if (c.Truthy()) return Eval(*e.args[0]);
      if (e.args[2] == nullptr) return Value::Undefined();
      return Eval(*e.args[2]);
    }
  }
  return absl::InternalError("unknown expression");
}

absl::Status Renderer::Bind(const std::vector<std::string>& targets, const Value& v, int line) {
  if (targets.size() == 1) {
    frames_.back()[targets[0]] = v;
    return absl::OkStatus();
  }
  if (!v.is_list() || v.list().size() != targets.size()) {
    return AtLine(line, absl::InvalidArgumentError(absl::StrCat(
                            "cannot unpack a ", v.TypeName(), " into ", targets.size(), " names")));
  }
  for (size_t i = 0; i < targets.size(); ++i) frames_.back()[targets[i]] = v.list()[i];
  return absl::OkStatus();
}

absl::StatusOr<Flow> Renderer::ExecFor(const Node& n, MarkedText* out) {
  GLMQ_ASSIGN_OR_RETURN(Value seq, Eval(*n.expr));
  absl::StatusOr<List> all = Iterate(seq);
  if (!all.ok()) return AtLine(n.line, all.status());
  steps_ += static_cast<int64_t>(all->size());  // each item costs a step, bodies or not
  if (steps_ > kMaxSteps) {
    return AtLine(n.line, absl::ResourceExhaustedError(absl::StrCat(
                              "the template ran over ", kMaxSteps, " steps (a runaway loop?)")));
  }
  List items;
  for (Value& item : *all) {
    if (n.filter != nullptr) {
      frames_.emplace_back();
      GLMQ_RETURN_IF_ERROR(Bind(n.targets, item, n.line));
      absl::StatusOr<Value> keep = Eval(*n.filter);
      frames_.pop_back();
      if (!keep.ok()) return keep.status();
      if (!keep->Truthy()) continue;
    }
    items.push_back(std::move(item));
  }
  if (items.empty()) return Exec(n.bodies[1], out);
  const int64_t len = static_cast<int64_t>(items.size());
  for (int64_t i = 0; i < len; ++i) {
    auto loop = std::make_shared<Dict>();
    loop->Set("index", Value::Int(i + 1));
    loop->Set("index0", Value::Int(i));
    loop->Set("revindex", Value::Int(len - i));
    loop->Set("revindex0", Value::Int(len - i - 1));
    loop->Set("first", Value::Bool(i == 0));
    loop->Set("last", Value::Bool(i == len - 1));
    loop->Set("length", Value::Int(len));
    loop->Set("previtem", i > 0 ? items[i - 1] : Value::Undefined("loop.previtem"));
    loop->Set("nextitem", i + 1 < len ? items[i + 1] : Value::Undefined("loop.nextitem"));
    loop->Set("cycle",
              Value::MakeFunction("loop.cycle", [i](const CallArgs& a) -> absl::StatusOr<Value> {
                if (a.positional.empty())
                  return absl::InvalidArgumentError("loop.cycle() needs arguments");
                return a.positional[i % a.positional.size()];
              }));
    frames_.emplace_back();
    frames_.back()["loop"] = Value::MakeDict(std::move(loop));
    absl::Status bound = Bind(n.targets, items[i], n.line);
    absl::StatusOr<Flow> flow = bound.ok() ? Exec(n.bodies[0], out) : bound;
    frames_.pop_back();
    if (!flow.ok()) return flow.status();
    if (*flow == Flow::kBreak) break;
  }
  return Flow::kNormal;
}

// A namespace attribute may not hold the namespace itself, directly or
// inside lists and dicts (`{% set ns.n = ns %}`: the cycle sent every
// recursive walk of values, AllTrusted first, off the stack), nor a value
// nested deeper than kMaxValueDepth (namespaces carry values across loop
// iterations, `ns.x = [ns.x]` would nest without bound). Every 64 nodes
// walked cost a step, so repeated stores of big values end at the step limit.
absl::Status Renderer::CheckStorable(const Value& v, const Dict* ns, int depth) {
  constexpr int kMaxValueDepth = 64;
  if (depth > kMaxValueDepth) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a namespace attribute cannot hold a value nested over ", kMaxValueDepth, " deep"));
  }
  if ((++walked_ & 63) == 0 && ++steps_ > kMaxSteps) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the template ran over ", kMaxSteps, " steps (a runaway loop?)"));
  }
  if (v.is_list()) {
    for (const Value& x : v.list()) GLMQ_RETURN_IF_ERROR(CheckStorable(x, ns, depth + 1));
  } else if (v.is_dict()) {
    if (&v.dict() == ns) {
      return absl::InvalidArgumentError("a namespace attribute cannot hold the namespace itself");
    }
    for (const auto& [k, x] : v.dict().items) GLMQ_RETURN_IF_ERROR(CheckStorable(x, ns, depth + 1));
  }
  return absl::OkStatus();
}

absl::Status Renderer::ExecSet(const Node& n, const Value& v) {
  if (n.text.empty()) return Bind(n.targets, v, n.line);
  const Value target = Lookup(n.targets[0]);
  if (!target.is_dict() || !target.dict().is_namespace) {
    return AtLine(n.line, absl::InvalidArgumentError(
                              absl::StrCat("cannot set attribute '", n.text, "' of '", n.targets[0],
                                           "': only a namespace() has settable attributes")));
  }
  GLMQ_RETURN_IF_ERROR(AtLine(n.line, CheckStorable(v, &target.dict(), 0)));
  target.dict().Set(n.text, v);
  return absl::OkStatus();
}

Value Renderer::MakeMacro(const Node& n) {
  return Value::MakeFunction(n.text, [this, &n](const CallArgs& a) -> absl::StatusOr<Value> {
    if (a.positional.size() > n.targets.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("macro '", n.text, "' takes ", n.targets.size(), " arguments"));
    }
    std::unordered_map<std::string, Value> frame;
    for (size_t i = 0; i < n.targets.size(); ++i) {
      if (i < a.positional.size()) {
        frame[n.targets[i]] = a.positional[i];
      } else if (n.defaults[i] != nullptr) {
        GLMQ_ASSIGN_OR_RETURN(frame[n.targets[i]], Eval(*n.defaults[i]));
      } else {
        frame[n.targets[i]] = Value::Undefined(n.targets[i]);
      }
    }
    for (const auto& [k, v] : a.named) {
      if (std::find(n.targets.begin(), n.targets.end(), k) == n.targets.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat("macro '", n.text, "' has no parameter '", k, "'"));
      }
      frame[k] = v;
    }
    frames_.push_back(std::move(frame));
    MarkedText out;
    absl::StatusOr<Flow> flow = Exec(n.bodies[0], &out);
    frames_.pop_back();
    if (!flow.ok()) return flow.status();
    return Value::Text(std::move(out));
  });
}

absl::StatusOr<Flow> Renderer::ExecNode(const Node& n, MarkedText* out) {
  switch (n.kind) {
    case Node::Kind::kText:
      out->Append(n.text, /*trusted=*/true);
      break;
    case Node::Kind::kOutput: {
      GLMQ_ASSIGN_OR_RETURN(Value v, Eval(*n.expr));
      out->Append(ToText(v));
      break;
    }
    case Node::Kind::kIf: {
      for (size_t i = 0; i < n.conditions.size(); ++i) {
        GLMQ_ASSIGN_OR_RETURN(Value c, Eval(*n.conditions[i]));
        if (c.Truthy()) return Exec(n.bodies[i], out);
      }
      if (n.bodies.size() > n.conditions.size()) return Exec(n.bodies.back(), out);
      break;
    }
    case Node::Kind::kFor:
      return ExecFor(n, out);
    case Node::Kind::kSet: {
      GLMQ_ASSIGN_OR_RETURN(Value v, Eval(*n.expr));
      GLMQ_RETURN_IF_ERROR(ExecSet(n, v));
      break;
    }
    case Node::Kind::kSetBlock: {
      MarkedText block;
      GLMQ_ASSIGN_OR_RETURN(Flow f, Exec(n.bodies[0], &block));
      (void)f;
      frames_.back()[n.targets[0]] = Value::Text(std::move(block));
      break;
    }
    case Node::Kind::kMacro:
      frames_.back()[n.text] = MakeMacro(n);
      break;
    case Node::Kind::kBreak:
      return Flow::kBreak;
    case Node::Kind::kContinue:
      return Flow::kContinue;
    case Node::Kind::kGeneration:
      return Exec(n.bodies[0], out);
  }
  if (out->text.size() > kMaxOutputBytes) {
    return AtLine(n.line, absl::ResourceExhaustedError("rendered prompt exceeds 64 MiB"));
  }
  return Flow::kNormal;
}

absl::StatusOr<Flow> Renderer::Exec(const Body& body, MarkedText* out) {
  for (const std::unique_ptr<Node>& n : body) {
    GLMQ_ASSIGN_OR_RETURN(Flow f, ExecNode(*n, out));
    if (f != Flow::kNormal) return f;
  }
  return Flow::kNormal;
}

}  // namespace

absl::StatusOr<Template> Template::Parse(absl::string_view source) {
  GLMQ_ASSIGN_OR_RETURN(Body body, ParseTemplate(source));
  Template t;
  t.body_ = std::make_shared<const Body>(std::move(body));
  return t;
}

absl::StatusOr<MarkedText> Template::Render(
    const std::vector<std::pair<std::string, Value>>& variables) const {
  Renderer r(variables);
  MarkedText out;
  GLMQ_ASSIGN_OR_RETURN(Flow f, r.Exec(*body_, &out));
  (void)f;  // the parser rejects break / continue outside a loop
  return out;
}

}  // namespace glmq::jinja
