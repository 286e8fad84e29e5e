#include "runtime/tokenizer/jinja_value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "runtime/tokenizer/unicode.h"

namespace glmq::jinja {

// ---- MarkedText --------------------------------------------------------------

void MarkedText::Append(absl::string_view s, bool trusted) {
  const size_t begin = text.size();
  text.append(s.data(), s.size());
  if (trusted || s.empty()) return;
  if (!untrusted.empty() && untrusted.back().end == begin) {
    untrusted.back().end = text.size();
  } else {
    untrusted.push_back({begin, text.size()});
  }
}

void MarkedText::Append(const MarkedText& o) {
  size_t pos = 0;
  for (const Span& s : o.untrusted) {
    Append(absl::string_view(o.text).substr(pos, s.begin - pos), true);
    Append(absl::string_view(o.text).substr(s.begin, s.end - s.begin), false);
    pos = s.end;
  }
  Append(absl::string_view(o.text).substr(pos), true);
}

MarkedText MarkedText::Sub(size_t begin, size_t end) const {
  MarkedText out;
  end = std::min(end, text.size());
  if (begin >= end) return out;
  out.text = text.substr(begin, end - begin);
  for (const Span& s : untrusted) {
    const size_t b = std::max(s.begin, begin), e = std::min(s.end, end);
    if (b < e) out.untrusted.push_back({b - begin, e - begin});
  }
  return out;
}

bool MarkedText::Trusted(size_t begin, size_t end) const {
  for (const Span& s : untrusted) {
    if (s.begin < end && begin < s.end) return false;
  }
  return true;
}

// ---- Dict --------------------------------------------------------------------

const Value* Dict::Find(absl::string_view key) const {
  for (const auto& [k, v] : items) {
    if (k == key) return &v;
  }
  return nullptr;
}

void Dict::Set(const std::string& key, Value v) {
  for (auto& [k, old] : items) {
    if (k == key) {
      old = std::move(v);
      return;
    }
  }
  items.emplace_back(key, std::move(v));
}

// ---- Value -------------------------------------------------------------------

Value Value::Undefined(std::string name) {
  Value v;
  v.text_.text = std::move(name);
  return v;
}

Value Value::None() {
  Value v;
  v.kind_ = Kind::kNone;
  return v;
}

Value Value::Bool(bool b) {
  Value v;
  v.kind_ = Kind::kBool;
  v.int_ = b ? 1 : 0;
  return v;
}

Value Value::Int(int64_t i) {
  Value v;
  v.kind_ = Kind::kInt;
  v.int_ = i;
  return v;
}

Value Value::Float(double f) {
  Value v;
  v.kind_ = Kind::kFloat;
  v.float_ = f;
  return v;
}

Value Value::String(std::string s, bool trusted) {
  Value v;
  v.kind_ = Kind::kString;
  v.text_.Append(s, trusted);
  return v;
}

Value Value::Text(MarkedText t) {
  Value v;
  v.kind_ = Kind::kString;
  v.text_ = std::move(t);
  return v;
}

Value Value::MakeList(List items) {
  Value v;
  v.kind_ = Kind::kList;
  v.list_ = std::make_shared<const List>(std::move(items));
  return v;
}

Value Value::MakeDict(std::shared_ptr<Dict> dict) {
  Value v;
  v.kind_ = Kind::kDict;
  v.dict_ = std::move(dict);
  return v;
}

Value Value::MakeFunction(std::string name, Function fn) {
  Value v;
  v.kind_ = Kind::kFunction;
  v.text_.text = std::move(name);
  v.fn_ = std::make_shared<const Function>(std::move(fn));
  return v;
}

Value Value::FromJson(const nlohmann::ordered_json& j, bool trusted) {
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null:
      return None();
    case nlohmann::ordered_json::value_t::boolean:
      return Bool(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer:
      return Int(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned:
      return Int(static_cast<int64_t>(j.get<uint64_t>()));
    case nlohmann::ordered_json::value_t::number_float:
      return Float(j.get<double>());
    case nlohmann::ordered_json::value_t::string:
      return String(j.get<std::string>(), trusted);
    case nlohmann::ordered_json::value_t::array: {
      List items;
      for (const auto& e : j) items.push_back(FromJson(e, trusted));
      return MakeList(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      auto d = std::make_shared<Dict>();
      d->keys_trusted = trusted;
      for (auto it = j.begin(); it != j.end(); ++it)
        d->Set(it.key(), FromJson(it.value(), trusted));
      return MakeDict(std::move(d));
    }
    default:
      return Undefined();
  }
}

bool Value::Truthy() const {
  switch (kind_) {
    case Kind::kUndefined:
    case Kind::kNone:
      return false;
    case Kind::kBool:
    case Kind::kInt:
      return int_ != 0;
    case Kind::kFloat:
      return float_ != 0;
    case Kind::kString:
      return !text_.text.empty();
    case Kind::kList:
      return !list_->empty();
    case Kind::kDict:
      return !dict_->items.empty();
    case Kind::kFunction:
      return true;
  }
  return false;
}

bool Value::Equals(const Value& o) const {
  if (is_number() && o.is_number()) {
    if (kind_ == Kind::kFloat || o.kind_ == Kind::kFloat) return AsDouble() == o.AsDouble();
    return int_ == o.int_;
  }
  if (kind_ != o.kind_) return false;
  switch (kind_) {
    case Kind::kUndefined:
    case Kind::kNone:
      return true;
    case Kind::kString:
      return text_.text == o.text_.text;
    case Kind::kList: {
      if (list_->size() != o.list_->size()) return false;
      for (size_t i = 0; i < list_->size(); ++i) {
        if (!(*list_)[i].Equals((*o.list_)[i])) return false;
      }
      return true;
    }
    case Kind::kDict: {
      if (dict_->items.size() != o.dict_->items.size()) return false;
      for (const auto& [k, v] : dict_->items) {
        const Value* w = o.dict_->Find(k);
        if (w == nullptr || !v.Equals(*w)) return false;
      }
      return true;
    }
    case Kind::kFunction:
      return fn_ == o.fn_;
    default:
      return false;
  }
}

const char* Value::TypeName() const {
  switch (kind_) {
    case Kind::kUndefined:
      return "undefined";
    case Kind::kNone:
      return "none";
    case Kind::kBool:
      return "bool";
    case Kind::kInt:
      return "int";
    case Kind::kFloat:
      return "float";
    case Kind::kString:
      return "string";
    case Kind::kList:
      return "list";
    case Kind::kDict:
      return "dict";
    case Kind::kFunction:
      return "function";
  }
  return "?";
}

bool Value::AllTrusted() const {
  switch (kind_) {
    case Kind::kString:
      return text_.AllTrusted();
    case Kind::kList:
      return std::all_of(list_->begin(), list_->end(),
                         [](const Value& v) { return v.AllTrusted(); });
    case Kind::kDict:
      if (!dict_->keys_trusted) return false;
      for (const auto& [k, v] : dict_->items) {
        if (!v.AllTrusted()) return false;
      }
      return true;
    default:
      return true;
  }
}

// ---- str(), repr() -----------------------------------------------------------

std::string FloatRepr(double f) {
  if (std::isnan(f)) return "nan";
  if (std::isinf(f)) return f < 0 ? "-inf" : "inf";
  char buf[64];
  // Shortest round-trip digits, as Python's repr: d.ddde[+-]XX.
  auto res = std::to_chars(buf, buf + sizeof(buf), f, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  std::string sign;
  if (sci[0] == '-') {
    sign = "-";
    sci.erase(0, 1);
  }
  const size_t e = sci.find('e');
  const int exp = std::atoi(sci.c_str() + e + 1);
  std::string digits = sci.substr(0, e);
  digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
  if (exp < -4 || exp >= 16) {
    std::string out = absl::StrCat(sign, digits.substr(0, 1));
    if (digits.size() > 1) absl::StrAppend(&out, ".", digits.substr(1));
    char eb[16];
    std::snprintf(eb, sizeof(eb), "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
    return absl::StrCat(out, eb);
  }
  std::string out;
  if (exp < 0) {
    out = absl::StrCat("0.", std::string(-exp - 1, '0'), digits);
  } else if (static_cast<size_t>(exp) + 1 >= digits.size()) {
    out = absl::StrCat(digits, std::string(exp + 1 - digits.size(), '0'), ".0");
  } else {
    out = absl::StrCat(digits.substr(0, exp + 1), ".", digits.substr(exp + 1));
  }
  return absl::StrCat(sign, out);
}

namespace {

std::string ReprString(const std::string& s) {
  const bool has_single = s.find('\'') != std::string::npos;
  const char q = has_single && s.find('"') == std::string::npos ? '"' : '\'';
  std::string out(1, q);
  for (unsigned char c : s) {
    if (c == '\\')
      out += "\\\\";
    else if (c == static_cast<unsigned char>(q))
      out.append({'\\', q});
    else if (c == '\n')
      out += "\\n";
    else if (c == '\r')
      out += "\\r";
    else if (c == '\t')
      out += "\\t";
    else if (c < 0x20 || c == 0x7f)
      out += absl::StrCat("\\x", absl::Hex(c, absl::kZeroPad2));
    else
      out.push_back(static_cast<char>(c));
  }
  out.push_back(q);
  return out;
}

}  // namespace

std::string Repr(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kString:
      return ReprString(v.str());
    case Value::Kind::kList: {
      std::string out = "[";
      for (size_t i = 0; i < v.list().size(); ++i) {
        if (i > 0) out += ", ";
        out += Repr(v.list()[i]);
      }
      return out + "]";
    }
    case Value::Kind::kDict: {
      std::string out = "{";
      bool first = true;
      for (const auto& [k, e] : v.dict().items) {
        if (!first) out += ", ";
        first = false;
        out += ReprString(k) + ": " + Repr(e);
      }
      return out + "}";
    }
    default:
      return ToText(v).text;
  }
}

MarkedText ToText(const Value& v) {
  MarkedText t;
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      break;
    case Value::Kind::kNone:
      t.text = "None";
      break;
    case Value::Kind::kBool:
      t.text = v.AsBool() ? "True" : "False";
      break;
    case Value::Kind::kInt:
      t.text = absl::StrCat(v.AsInt());
      break;
    case Value::Kind::kFloat:
      t.text = FloatRepr(v.AsDouble());
      break;
    case Value::Kind::kString:
      return v.text();
    case Value::Kind::kList:
    case Value::Kind::kDict:
      t.Append(Repr(v), v.AllTrusted());
      break;
    case Value::Kind::kFunction:
      t.text = "<function " + v.name() + ">";
      break;
  }
  return t;
}

// ---- json.dumps --------------------------------------------------------------

namespace {

void JsonString(const std::string& s, bool ensure_ascii, std::string* out) {
  out->push_back('"');
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = p[i];
    if (c == '"')
      *out += "\\\"";
    else if (c == '\\')
      *out += "\\\\";
    else if (c == '\n')
      *out += "\\n";
    else if (c == '\r')
      *out += "\\r";
    else if (c == '\t')
      *out += "\\t";
    else if (c == '\b')
      *out += "\\b";
    else if (c == '\f')
      *out += "\\f";
    else if (c < 0x20)
      *out += absl::StrCat("\\u", absl::Hex(c, absl::kZeroPad4));
    else if (c < 0x80 || !ensure_ascii)
      out->push_back(static_cast<char>(c));
    if (c < 0x80 || !ensure_ascii) {
      ++i;
      continue;
    }
    const tok::Utf8Unit u = tok::DecodeUtf8(p + i, s.size() - i);
    const uint32_t cp = u.cp == tok::kInvalidCp ? 0xFFFD : u.cp;
    if (cp >= 0x10000) {
      const uint32_t v = cp - 0x10000;
      *out += absl::StrCat("\\u", absl::Hex(0xD800 + (v >> 10), absl::kZeroPad4), "\\u",
                           absl::Hex(0xDC00 + (v & 0x3FF), absl::kZeroPad4));
    } else {
      *out += absl::StrCat("\\u", absl::Hex(cp, absl::kZeroPad4));
    }
    i += u.len;
  }
  out->push_back('"');
}

struct Dumper {
  const JsonDumpOptions& o;
  std::string item_sep, key_sep;

  absl::Status Dump(const Value& v, int level, std::string* out) const {
    switch (v.kind()) {
      case Value::Kind::kNone:
        *out += "null";
        return absl::OkStatus();
      case Value::Kind::kBool:
        *out += v.AsBool() ? "true" : "false";
        return absl::OkStatus();
      case Value::Kind::kInt:
        *out += absl::StrCat(v.AsInt());
        return absl::OkStatus();
      case Value::Kind::kFloat: {
        const double f = v.AsDouble();
        *out += std::isnan(f)   ? "NaN"
                : std::isinf(f) ? (f < 0 ? "-Infinity" : "Infinity")
                                : FloatRepr(f);
        return absl::OkStatus();
      }
      case Value::Kind::kString:
        JsonString(v.str(), o.ensure_ascii, out);
        return absl::OkStatus();
      case Value::Kind::kList:
        return DumpList(v.list(), level, out);
      case Value::Kind::kDict:
        return DumpDict(v.dict(), level, out);
      default:
        return absl::InvalidArgumentError(
            absl::StrCat("tojson: a value of type ", v.TypeName(), " is not JSON serializable"));
    }
  }
  // Appends the newline and indentation of `level` (nothing on one line).
  void Newline(int level, std::string* out) const {
    if (o.indent < 0) return;
    out->push_back('\n');
    out->append(static_cast<size_t>(o.indent) * level, ' ');
  }
  absl::Status DumpList(const List& l, int level, std::string* out) const {
    if (l.empty()) {
      *out += "[]";
      return absl::OkStatus();
    }
    out->push_back('[');
    Newline(level + 1, out);
    for (size_t i = 0; i < l.size(); ++i) {
      if (i > 0) {
        *out += item_sep;
        Newline(level + 1, out);
      }
      if (auto s = Dump(l[i], level + 1, out); !s.ok()) return s;
    }
    Newline(level, out);
    out->push_back(']');
    return absl::OkStatus();
  }
  absl::Status DumpDict(const Dict& d, int level, std::string* out) const {
    if (d.items.empty()) {
      *out += "{}";
      return absl::OkStatus();
    }
    std::vector<const std::pair<std::string, Value>*> items;
    for (const auto& kv : d.items) items.push_back(&kv);
    if (o.sort_keys) {
      std::stable_sort(items.begin(), items.end(),
                       [](const auto* a, const auto* b) { return a->first < b->first; });
    }
    out->push_back('{');
    Newline(level + 1, out);
    for (size_t i = 0; i < items.size(); ++i) {
      if (i > 0) {
        *out += item_sep;
        Newline(level + 1, out);
      }
      JsonString(items[i]->first, o.ensure_ascii, out);
      *out += key_sep;
      if (auto s = Dump(items[i]->second, level + 1, out); !s.ok()) return s;
    }
    Newline(level, out);
    out->push_back('}');
    return absl::OkStatus();
  }
};

}  // namespace

absl::StatusOr<std::string> JsonDumps(const Value& v, const JsonDumpOptions& options) {
  Dumper d{options, options.item_separator, options.key_separator};
  if (d.item_sep.empty()) d.item_sep = options.indent < 0 ? ", " : ",";
  if (d.key_sep.empty()) d.key_sep = ": ";
  std::string out;
  if (auto s = d.Dump(v, 0, &out); !s.ok()) return s;
  return out;
}

}  // namespace glmq::jinja
