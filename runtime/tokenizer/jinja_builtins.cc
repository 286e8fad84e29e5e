// Attribute / item access, operators, tests and globals of glmq's Jinja
// subset, with Python's semantics where Jinja defers to Python. Filters and
// methods: jinja_filters.cc.
#include "runtime/tokenizer/jinja_builtins.h"

#include <cmath>
#include <limits>
#include <ctime>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "runtime/tokenizer/jinja_methods.h"
#include "runtime/tokenizer/unicode.h"

namespace glmq::jinja {

int64_t CodePointLength(absl::string_view s) {
  return static_cast<int64_t>(CodePointOffsets(s).size()) - 1;
}

std::vector<size_t> CodePointOffsets(absl::string_view s) {
  std::vector<size_t> offsets;
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  size_t i = 0;
  while (i < s.size()) {
    offsets.push_back(i);
    i += tok::DecodeUtf8(p + i, s.size() - i).len;
  }
  offsets.push_back(s.size());
  return offsets;
}

namespace {

absl::Status UndefinedError(const Value& v, absl::string_view what) {
  return absl::InvalidArgumentError(
      v.name().empty() ? absl::StrCat("undefined value has no ", what)
                       : absl::StrCat("'", v.name(), "' is undefined (no ", what, ")"));
}

}  // namespace

absl::StatusOr<Value> GetAttr(const Value& obj, const std::string& name) {
  if (obj.is_undefined()) return UndefinedError(obj, absl::StrCat("attribute '", name, "'"));
  if (HasMethod(obj, name)) return BindMethod(obj, name);
  if (obj.is_dict()) {
    const Value* v = obj.dict().Find(name);
    return v != nullptr ? *v : Value::Undefined(name);
  }
  return Value::Undefined(name);
}

absl::StatusOr<Value> GetItem(const Value& obj, const Value& key) {
  if (obj.is_undefined()) return UndefinedError(obj, absl::StrCat("item ", Repr(key)));
  if (obj.is_dict()) {
    if (!key.is_string()) return Value::Undefined();
    if (const Value* v = obj.dict().Find(key.str())) return *v;
    if (HasMethod(obj, key.str())) return BindMethod(obj, key.str());
    return Value::Undefined(key.str());
  }
  if ((obj.is_list() || obj.is_string()) && (key.kind() == Value::Kind::kInt || key.is_bool())) {
    std::vector<size_t> offsets;
    int64_t n;
    if (obj.is_list()) {
      n = static_cast<int64_t>(obj.list().size());
    } else {
      offsets = CodePointOffsets(obj.str());
      n = static_cast<int64_t>(offsets.size()) - 1;
    }
    int64_t i = key.AsInt();
    if (i < 0) i += n;
    if (i < 0 || i >= n) return Value::Undefined();
    if (obj.is_list()) return obj.list()[i];
    return Value::Text(obj.text().Sub(offsets[i], offsets[i + 1]));
  }
  if (obj.is_string() && key.is_string() && HasMethod(obj, key.str())) {
    return BindMethod(obj, key.str());
  }
  return Value::Undefined();
}

namespace {

absl::StatusOr<int64_t> SliceIndex(const Value& v, const char* what) {
  if (v.kind() == Value::Kind::kInt || v.is_bool()) return v.AsInt();
  return absl::InvalidArgumentError(
      absl::StrCat("slice ", what, " must be an int, not ", v.TypeName()));
}

}  // namespace

absl::StatusOr<Value> GetSlice(const Value& obj, const Value& start_v, const Value& stop_v,
                               const Value& step_v) {
  if (obj.is_undefined()) return UndefinedError(obj, "slice");
  if (!obj.is_list() && !obj.is_string()) {
    return absl::InvalidArgumentError(absl::StrCat("cannot slice a ", obj.TypeName()));
  }
  std::vector<size_t> offsets;
  if (obj.is_string()) offsets = CodePointOffsets(obj.str());
  const int64_t n = obj.is_list() ? static_cast<int64_t>(obj.list().size())
                                  : static_cast<int64_t>(offsets.size()) - 1;
  int64_t step = 1;
  if (!step_v.is_undefined() && !step_v.is_none()) {
    GLMQ_ASSIGN_OR_RETURN(step, SliceIndex(step_v, "step"));
  }
  if (step == 0) return absl::InvalidArgumentError("slice step cannot be zero");
  const bool up = step > 0;
  auto clamp = [&](const Value& v, int64_t fallback) -> absl::StatusOr<int64_t> {
    if (v.is_undefined() || v.is_none()) return fallback;
    GLMQ_ASSIGN_OR_RETURN(int64_t i, SliceIndex(v, "bound"));
    if (i < 0) i += n;
    if (i < 0) return up ? 0 : -1;
    if (i >= n) return up ? n : n - 1;
    return i;
  };
  GLMQ_ASSIGN_OR_RETURN(int64_t start, clamp(start_v, up ? 0 : n - 1));
  GLMQ_ASSIGN_OR_RETURN(int64_t stop, clamp(stop_v, up ? n : -1));
  if (obj.is_list()) {
    List out;
    for (int64_t i = start; up ? i < stop : i > stop; i += step) out.push_back(obj.list()[i]);
    return Value::MakeList(std::move(out));
  }
  MarkedText out;
  if (step == 1) {
    if (start < stop) out = obj.text().Sub(offsets[start], offsets[stop]);
  } else {
    for (int64_t i = start; up ? i < stop : i > stop; i += step) {
      out.Append(obj.text().Sub(offsets[i], offsets[i + 1]));
    }
  }
  return Value::Text(std::move(out));
}

absl::StatusOr<List> Iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return List();
    case Value::Kind::kList:
      return v.list();
    case Value::Kind::kDict: {
      List keys;
      for (const auto& [k, e] : v.dict().items)
        keys.push_back(Value::String(k, v.dict().keys_trusted));
      return keys;
    }
    case Value::Kind::kString: {
      const std::vector<size_t> offsets = CodePointOffsets(v.str());
      List chars;
      for (size_t i = 0; i + 1 < offsets.size(); ++i) {
        chars.push_back(Value::Text(v.text().Sub(offsets[i], offsets[i + 1])));
      }
      return chars;
    }
    default:
      return absl::InvalidArgumentError(absl::StrCat("a ", v.TypeName(), " is not iterable"));
  }
}

// ---- operators ---------------------------------------------------------------

namespace {

absl::Status OperandError(const std::string& op, const Value& a, const Value& b) {
  return absl::InvalidArgumentError(absl::StrCat("unsupported operand types for ", op, ": '",
                                                 a.TypeName(), "' and '", b.TypeName(), "'"));
}

absl::StatusOr<Value> Arithmetic(const std::string& op, const Value& a, const Value& b) {
  const bool ints = a.kind() != Value::Kind::kFloat && b.kind() != Value::Kind::kFloat;
  const double x = a.AsDouble(), y = b.AsDouble();
  const int64_t i = a.AsInt(), j = b.AsInt();
  // Python's integers do not overflow; glmq's are 64-bit and refuse to.
  auto overflow = [&]() -> absl::StatusOr<Value> {
    return absl::InvalidArgumentError(absl::StrCat("integer overflow in ", i, " ", op, " ", j));
  };
  int64_t res = 0;
  if (op == "+") {
    if (!ints) return Value::Float(x + y);
    return __builtin_add_overflow(i, j, &res) ? overflow() : Value::Int(res);
  }
  if (op == "-") {
    if (!ints) return Value::Float(x - y);
    return __builtin_sub_overflow(i, j, &res) ? overflow() : Value::Int(res);
  }
  if (op == "*") {
    if (!ints) return Value::Float(x * y);
    return __builtin_mul_overflow(i, j, &res) ? overflow() : Value::Int(res);
  }
  if (op == "**") {
    if (ints && j >= 0) {
      res = 1;  // by squaring: log2(j) steps (a loop of j steps hangs on -1 ** 2**62)
      int64_t base = i;
      for (int64_t e = j; e > 0;) {
        if ((e & 1) != 0 && __builtin_mul_overflow(res, base, &res)) return overflow();
        e >>= 1;
        if (e > 0 && __builtin_mul_overflow(base, base, &base)) return overflow();
      }
      return Value::Int(res);
    }
    return Value::Float(std::pow(x, y));
  }
  if (y == 0) return absl::InvalidArgumentError("division by zero");
  if (ints && i == std::numeric_limits<int64_t>::min() && j == -1) return overflow();
  if (op == "/") return Value::Float(x / y);
  if (op == "//") {
    if (!ints) return Value::Float(std::floor(x / y));
    int64_t q = i / j;
    if ((i % j != 0) && ((i < 0) != (j < 0))) --q;
    return Value::Int(q);
  }
  if (ints) {  // %
    int64_t r = i % j;
    if (r != 0 && ((r < 0) != (j < 0))) r += j;
    return Value::Int(r);
  }
  double r = std::fmod(x, y);
  if (r != 0 && ((r < 0) != (y < 0))) r += y;
  return Value::Float(r);
}

absl::StatusOr<bool> Contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Value::Kind::kString:
      if (!item.is_string()) {
        return absl::InvalidArgumentError(
            absl::StrCat("'in <string>' requires a string, not ", item.TypeName()));
      }
      return absl::StrContains(container.str(), item.str());
    case Value::Kind::kList:
      for (const Value& v : container.list()) {
        if (v.Equals(item)) return true;
      }
      return false;
    case Value::Kind::kDict:
      return item.is_string() && container.dict().Find(item.str()) != nullptr;
    case Value::Kind::kUndefined:
      return false;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("argument of type '", container.TypeName(), "' is not iterable"));
  }
}

absl::StatusOr<int> Order(const Value& a, const Value& b, const std::string& op) {
  if (a.is_number() && b.is_number()) {
    return a.AsDouble() < b.AsDouble() ? -1 : a.AsDouble() > b.AsDouble() ? 1 : 0;
  }
  if (a.is_string() && b.is_string())
    return a.str().compare(b.str()) < 0 ? -1 : a.str() == b.str() ? 0 : 1;
  return absl::InvalidArgumentError(absl::StrCat("'", op, "' is not supported between '",
                                                 a.TypeName(), "' and '", b.TypeName(), "'"));
}

}  // namespace

absl::StatusOr<Value> BinaryOp(const std::string& op, const Value& a, const Value& b) {
  if (op == "==") return Value::Bool(a.Equals(b));
  if (op == "!=") return Value::Bool(!a.Equals(b));
  if (op == "in" || op == "not in") {
    GLMQ_ASSIGN_OR_RETURN(bool in, Contains(b, a));
    return Value::Bool(op == "in" ? in : !in);
  }
  if (op == "<" || op == "<=" || op == ">" || op == ">=") {
    GLMQ_ASSIGN_OR_RETURN(int c, Order(a, b, op));
    if (op == "<") return Value::Bool(c < 0);
    if (op == "<=") return Value::Bool(c <= 0);
    if (op == ">") return Value::Bool(c > 0);
    return Value::Bool(c >= 0);
  }
  if (op == "+" && a.is_string() && b.is_string()) {
    if (a.text().text.size() + b.text().text.size() > kMaxStringBytes) {
      return absl::InvalidArgumentError("string over 64 MiB");
    }
    MarkedText t = a.text();
    t.Append(b.text());
    return Value::Text(std::move(t));
  }
  if (op == "+" && a.is_list() && b.is_list()) {
    if (a.list().size() + b.list().size() > kMaxListItems) {
      return absl::InvalidArgumentError(absl::StrCat("list over ", kMaxListItems, " items"));
    }
    List l = a.list();
    l.insert(l.end(), b.list().begin(), b.list().end());
    return Value::MakeList(std::move(l));
  }
  if (op == "*" && a.is_string() && (b.kind() == Value::Kind::kInt)) {
    const size_t len = a.text().text.size();
    if (b.AsInt() > 0 && len > 0 && static_cast<uint64_t>(b.AsInt()) > kMaxStringBytes / len) {
      return absl::InvalidArgumentError("string over 64 MiB");
    }
    MarkedText t;
    for (int64_t i = 0; i < b.AsInt() && i < (1 << 20); ++i) t.Append(a.text());
    return Value::Text(std::move(t));
  }
  if (op == "%" && a.is_string()) {
    return absl::InvalidArgumentError("printf-style string formatting ('%') is not supported");
  }
  if (a.is_number() && b.is_number()) return Arithmetic(op, a, b);
  return OperandError(op, a, b);
}

// ---- tests -------------------------------------------------------------------

absl::StatusOr<bool> ApplyTest(const std::string& name, const Value& v, const CallArgs& args) {
  const Value arg = args.positional.empty() ? Value::Undefined() : args.positional[0];
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "string") return v.is_string();
  if (name == "number") return v.is_number() && !v.is_bool();
  if (name == "integer") return v.kind() == Value::Kind::kInt;
  if (name == "float") return v.kind() == Value::Kind::kFloat;
  if (name == "boolean") return v.is_bool();
  if (name == "true") return v.is_bool() && v.AsBool();
  if (name == "false") return v.is_bool() && !v.AsBool();
  if (name == "mapping") return v.is_dict();
  if (name == "sequence") return v.is_list() || v.is_string() || v.is_dict();
  if (name == "iterable") return v.is_list() || v.is_string() || v.is_dict();
  if (name == "callable") return v.is_function();
  if (name == "lower") return v.is_string() && absl::AsciiStrToLower(v.str()) == v.str();
  if (name == "upper") return v.is_string() && absl::AsciiStrToUpper(v.str()) == v.str();
  if (name == "odd" || name == "even" || name == "divisibleby") {
    if (v.kind() != Value::Kind::kInt) {
      return absl::InvalidArgumentError(absl::StrCat("test '", name, "' needs an int"));
    }
    if (name == "odd") return v.AsInt() % 2 != 0;
    if (name == "even") return v.AsInt() % 2 == 0;
    if (arg.kind() != Value::Kind::kInt || arg.AsInt() == 0) {
      return absl::InvalidArgumentError("divisibleby needs a non-zero int");
    }
    return v.AsInt() % arg.AsInt() == 0;
  }
  if (name == "eq" || name == "equalto" || name == "==" || name == "sameas") return v.Equals(arg);
  if (name == "ne" || name == "!=") return !v.Equals(arg);
  static const std::pair<const char*, const char*> kOrderTests[] = {
      {"lt", "<"}, {"<", "<"}, {"lessthan", "<"},    {"le", "<="}, {"<=", "<="},
      {"gt", ">"}, {">", ">"}, {"greaterthan", ">"}, {"ge", ">="}, {">=", ">="}};
  for (const auto& [alias, op] : kOrderTests) {
    if (name != alias) continue;
    GLMQ_ASSIGN_OR_RETURN(Value r, BinaryOp(op, v, arg));
    return r.AsBool();
  }
  if (name == "in") {
    GLMQ_ASSIGN_OR_RETURN(Value r, BinaryOp("in", v, arg));
    return r.AsBool();
  }
  return absl::InvalidArgumentError(absl::StrCat("unsupported test '", name, "'"));
}

// ---- globals -----------------------------------------------------------------

namespace {

absl::StatusOr<Value> Range(const CallArgs& a) {
  int64_t start = 0, stop = 0, step = 1;
  std::vector<int64_t> n;
  for (const Value& v : a.positional) {
    if (v.kind() != Value::Kind::kInt) return absl::InvalidArgumentError("range() needs ints");
    n.push_back(v.AsInt());
  }
  if (n.size() == 1)
    stop = n[0];
  else if (n.size() == 2 || n.size() == 3)
    start = n[0], stop = n[1];
  else
    return absl::InvalidArgumentError("range() takes 1 to 3 arguments");
  if (n.size() == 3) step = n[2];
  if (step == 0) return absl::InvalidArgumentError("range() step cannot be zero");
  List out;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
    if (out.size() >= 1'000'000) return absl::InvalidArgumentError("range() over 1,000,000 items");
    out.push_back(Value::Int(i));
  }
  return Value::MakeList(std::move(out));
}

Value DictFromArgs(const CallArgs& a, bool is_namespace) {
  auto d = std::make_shared<Dict>();
  d->is_namespace = is_namespace;
  if (!a.positional.empty() && a.positional[0].is_dict()) {
    for (const auto& [k, v] : a.positional[0].dict().items) d->Set(k, v);
  }
  for (const auto& [k, v] : a.named) d->Set(k, v);
  return Value::MakeDict(std::move(d));
}

}  // namespace

Value Global(const std::string& name) {
  if (name == "raise_exception") {
    return Value::MakeFunction(name, [](const CallArgs& a) -> absl::StatusOr<Value> {
      const std::string msg = a.positional.empty() ? "" : ToText(a.positional[0]).text;
      return absl::InvalidArgumentError(absl::StrCat("the template raised an error: ", msg));
    });
  }
  if (name == "namespace" || name == "dict") {
    const bool ns = name == "namespace";
    return Value::MakeFunction(
        name, [ns](const CallArgs& a) -> absl::StatusOr<Value> { return DictFromArgs(a, ns); });
  }
  if (name == "range") return Value::MakeFunction(name, Range);
  if (name == "strftime_now") {
    return Value::MakeFunction(name, [](const CallArgs& a) -> absl::StatusOr<Value> {
      if (a.positional.empty() || !a.positional[0].is_string()) {
        return absl::InvalidArgumentError("strftime_now() needs a format string");
      }
      const std::time_t now = std::time(nullptr);
      std::tm tm;
      localtime_r(&now, &tm);
      char buf[256];
      const size_t n = std::strftime(buf, sizeof(buf), a.positional[0].str().c_str(), &tm);
      return Value::String(std::string(buf, n));
    });
  }
  return Value::Undefined(name);
}

}  // namespace glmq::jinja
