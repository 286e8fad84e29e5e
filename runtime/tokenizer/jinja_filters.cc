// Filters of glmq's Jinja subset and the Python string / dict methods
// templates call. Case mapping is Unicode's simple one; strip and split
// without arguments use Unicode white space.
#include <locale.h>
#include <wctype.h>

#include <algorithm>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "runtime/tokenizer/jinja_builtins.h"
#include "runtime/tokenizer/jinja_methods.h"
#include "runtime/tokenizer/unicode.h"

namespace glmq::jinja {
namespace {

// Positional argument i, or the named one; undefined when absent.
Value Arg(const CallArgs& a, size_t i, absl::string_view name) {
  for (const auto& [k, v] : a.named) {
    if (k == name) return v;
  }
  return i < a.positional.size() ? a.positional[i] : Value::Undefined();
}

absl::Status NeedString(const Value& v, absl::string_view what) {
  if (v.is_string()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(what, " needs a string, not a ", v.TypeName()));
}

// The result of rewriting `in`'s bytes: untrusted if any input byte was.
Value Rewritten(std::string s, const Value& in) {
  return Value::String(std::move(s), in.AllTrusted());
}

bool IsWhiteSpace(uint32_t cp) { return tok::ClassOf(cp) == tok::CpClass::kSpace; }

// s.strip(chars) on code points; `left` / `right` choose the ends.
Value Strip(const Value& s, const Value& chars, bool left, bool right) {
  const std::vector<size_t> off = CodePointOffsets(s.str());
  const auto* p = reinterpret_cast<const uint8_t*>(s.str().data());
  std::vector<uint32_t> set;
  if (chars.is_string()) {
    const std::vector<size_t> co = CodePointOffsets(chars.str());
    const auto* q = reinterpret_cast<const uint8_t*>(chars.str().data());
    for (size_t i = 0; i + 1 < co.size(); ++i) {
      set.push_back(tok::DecodeUtf8(q + co[i], chars.str().size() - co[i]).cp);
    }
  }
  auto strip = [&](size_t i) {
    const uint32_t cp = tok::DecodeUtf8(p + off[i], s.str().size() - off[i]).cp;
    return chars.is_string() ? std::find(set.begin(), set.end(), cp) != set.end()
                             : IsWhiteSpace(cp);
  };
  size_t b = 0, e = off.size() - 1;
  while (left && b < e && strip(b)) ++b;
  while (right && e > b && strip(e - 1)) --e;
  return Value::Text(s.text().Sub(off[b], off[e]));
}

Value Split(const Value& s, const Value& sep, const Value& maxsplit_v) {
  const int64_t maxsplit = maxsplit_v.kind() == Value::Kind::kInt ? maxsplit_v.AsInt() : -1;
  const std::string& str = s.str();
  List out;
  if (sep.is_string() && !sep.str().empty()) {
    size_t pos = 0;
    while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
      const size_t hit = str.find(sep.str(), pos);
      if (hit == std::string::npos) break;
      out.push_back(Value::Text(s.text().Sub(pos, hit)));
      pos = hit + sep.str().size();
    }
    out.push_back(Value::Text(s.text().Sub(pos, str.size())));
    return Value::MakeList(std::move(out));
  }
  // Runs of white space separate; leading / trailing white space gives nothing.
  const std::vector<size_t> off = CodePointOffsets(str);
  const auto* p = reinterpret_cast<const uint8_t*>(str.data());
  auto space = [&](size_t i) {
    return IsWhiteSpace(tok::DecodeUtf8(p + off[i], str.size() - off[i]).cp);
  };
  size_t i = 0;
  const size_t n = off.size() - 1;
  while (i < n) {
    while (i < n && space(i)) ++i;
    if (i == n) break;
    size_t j = i;
    if (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit) {
      out.push_back(Value::Text(s.text().Sub(off[i], off[n])));  // the rest, as is
      break;
    }
    while (j < n && !space(j)) ++j;
    out.push_back(Value::Text(s.text().Sub(off[i], off[j])));
    i = j;
  }
  return Value::MakeList(std::move(out));
}

absl::StatusOr<Value> Join(const List& items, const Value& sep) {
  MarkedText out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out.Append(ToText(sep));
    out.Append(ToText(items[i]));
  }
  return Value::Text(std::move(out));
}

absl::StatusOr<Value> Replace(const Value& s, const Value& from, const Value& to,
                              const Value& count) {
  GLMQ_RETURN_IF_ERROR(NeedString(from, "replace()"));
  GLMQ_RETURN_IF_ERROR(NeedString(to, "replace()"));
  std::string out;
  const std::string& str = s.str();
  int64_t left = count.kind() == Value::Kind::kInt ? count.AsInt() : -1;
  size_t pos = 0;
  if (from.str().empty()) return Rewritten(str, s);
  while (left != 0) {
    const size_t hit = str.find(from.str(), pos);
    if (hit == std::string::npos) break;
    out += str.substr(pos, hit - pos) + to.str();
    pos = hit + from.str().size();
    --left;
  }
  out += str.substr(pos);
  return Value::String(std::move(out), s.AllTrusted() && to.AllTrusted());
}

bool StartsOrEnds(const std::string& s, const Value& affix, bool start) {
  auto one = [&](const Value& a) {
    return a.is_string() && (start ? absl::StartsWith(s, a.str()) : absl::EndsWith(s, a.str()));
  };
  if (affix.is_list()) return std::any_of(affix.list().begin(), affix.list().end(), one);
  return one(affix);
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Unicode simple case mapping through glibc's C.UTF-8 locale (Python maps
// a few letters to several, e.g. "ß".upper() == "SS"; those stay as they
// are). Without that locale, ASCII only.
// kTitle: Python's str.title() (a word starts after a non-letter);
// kTitleFilter: Jinja's title filter (after white space, "-", "(", "{", "[", "<").
enum class Case { kUpper, kLower, kTitle, kTitleFilter, kCapitalize };

std::string MapCase(const std::string& s, Case mode) {
  static const locale_t loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(0));
  auto upper = [](uint32_t c) -> uint32_t {
    return loc != static_cast<locale_t>(0) ? towupper_l(c, loc)
                                           : (c < 128 ? absl::ascii_toupper(c) : c);
  };
  auto lower = [](uint32_t c) -> uint32_t {
    return loc != static_cast<locale_t>(0) ? towlower_l(c, loc)
                                           : (c < 128 ? absl::ascii_tolower(c) : c);
  };
  auto alpha = [](uint32_t c) -> bool {
    return loc != static_cast<locale_t>(0) ? iswalpha_l(c, loc) != 0
                                           : (c < 128 && absl::ascii_isalpha(c));
  };
  std::string out;
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  bool word_start = true, first = true;
  for (size_t i = 0; i < s.size();) {
    const tok::Utf8Unit u = tok::DecodeUtf8(p + i, s.size() - i);
    if (u.cp == tok::kInvalidCp) {
      out.push_back(s[i++]);
      continue;
    }
    uint32_t c = u.cp;
    switch (mode) {
      case Case::kUpper:
        c = upper(c);
        break;
      case Case::kLower:
        c = lower(c);
        break;
      case Case::kTitle:
      case Case::kTitleFilter:
        c = word_start ? upper(c) : lower(c);
        break;
      case Case::kCapitalize:
        c = first ? upper(c) : lower(c);
        break;
    }
    word_start = mode == Case::kTitleFilter ? (IsWhiteSpace(u.cp) || u.cp == '-' || u.cp == '(' ||
                                               u.cp == '{' || u.cp == '[' || u.cp == '<')
                                            : !alpha(u.cp);
    first = false;
    AppendUtf8(c, &out);
    i += u.len;
  }
  return out;
}

absl::StatusOr<Value> StringMethod(const Value& s, const std::string& name, const CallArgs& a) {
  const std::string& str = s.str();
  if (name == "strip") return Strip(s, Arg(a, 0, "chars"), true, true);
  if (name == "lstrip") return Strip(s, Arg(a, 0, "chars"), true, false);
  if (name == "rstrip") return Strip(s, Arg(a, 0, "chars"), false, true);
  if (name == "split") return Split(s, Arg(a, 0, "sep"), Arg(a, 1, "maxsplit"));
  if (name == "startswith") return Value::Bool(StartsOrEnds(str, Arg(a, 0, "prefix"), true));
  if (name == "endswith") return Value::Bool(StartsOrEnds(str, Arg(a, 0, "suffix"), false));
  if (name == "upper") return Rewritten(MapCase(str, Case::kUpper), s);
  if (name == "lower") return Rewritten(MapCase(str, Case::kLower), s);
  if (name == "title") return Rewritten(MapCase(str, Case::kTitle), s);
  if (name == "capitalize") return Rewritten(MapCase(str, Case::kCapitalize), s);
  if (name == "replace") return Replace(s, Arg(a, 0, "old"), Arg(a, 1, "new"), Arg(a, 2, "count"));
  if (name == "find") {
    const Value sub = Arg(a, 0, "sub");
    GLMQ_RETURN_IF_ERROR(NeedString(sub, "find()"));
    const size_t hit = str.find(sub.str());
    return Value::Int(hit == std::string::npos ? -1 : CodePointLength(str.substr(0, hit)));
  }
  if (name == "join") {
    GLMQ_ASSIGN_OR_RETURN(List items, Iterate(Arg(a, 0, "iterable")));
    return Join(items, s);
  }
  return absl::InvalidArgumentError(absl::StrCat("unsupported string method '", name, "'"));
}

absl::StatusOr<Value> DictMethod(const Value& d, const std::string& name, const CallArgs& a) {
  if (name == "get") {
    const Value key = Arg(a, 0, "key");
    const Value* v = key.is_string() ? d.dict().Find(key.str()) : nullptr;
    if (v != nullptr) return *v;
    const Value fallback = Arg(a, 1, "default");
    return fallback.is_undefined() ? Value::None() : fallback;
  }
  List out;
  for (const auto& [k, v] : d.dict().items) {
    const Value key = Value::String(k, d.dict().keys_trusted);
    if (name == "items")
      out.push_back(Value::MakeList({key, v}));
    else if (name == "keys")
      out.push_back(key);
    else
      out.push_back(v);
  }
  return Value::MakeList(std::move(out));
}

constexpr const char* kStringMethods[] = {"strip",    "lstrip", "rstrip", "split", "startswith",
                                          "endswith", "upper",  "lower",  "title", "capitalize",
                                          "replace",  "find",   "join"};
constexpr const char* kDictMethods[] = {"get", "items", "keys", "values"};

}  // namespace

bool HasMethod(const Value& obj, const std::string& name) {
  if (obj.is_string()) {
    return std::find(std::begin(kStringMethods), std::end(kStringMethods), name) !=
           std::end(kStringMethods);
  }
  if (obj.is_dict() && !obj.dict().is_namespace) {
    return std::find(std::begin(kDictMethods), std::end(kDictMethods), name) !=
           std::end(kDictMethods);
  }
  return false;
}

Value BindMethod(const Value& obj, const std::string& name) {
  return Value::MakeFunction(name, [obj, name](const CallArgs& a) -> absl::StatusOr<Value> {
    return obj.is_string() ? StringMethod(obj, name, a) : DictMethod(obj, name, a);
  });
}

// ---- filters -----------------------------------------------------------------

namespace {

absl::StatusOr<Value> ToJson(const Value& v, const CallArgs& a) {
  JsonDumpOptions o;
  const Value indent = Arg(a, 0, "indent");
  if (indent.kind() == Value::Kind::kInt)
    o.indent = static_cast<int>(indent.AsInt());
  else if (!indent.is_undefined() && !indent.is_none())
    return absl::InvalidArgumentError("tojson: indent must be an int");
  o.ensure_ascii = Arg(a, 99, "ensure_ascii").Truthy();
  o.sort_keys = Arg(a, 99, "sort_keys").Truthy();
  const Value sep = Arg(a, 99, "separators");
  if (sep.is_list() && sep.list().size() == 2 && sep.list()[0].is_string() &&
      sep.list()[1].is_string()) {
    o.item_separator = sep.list()[0].str();
    o.key_separator = sep.list()[1].str();
  }
  GLMQ_ASSIGN_OR_RETURN(std::string out, JsonDumps(v, o));
  return Value::String(std::move(out), v.AllTrusted());
}

// Items of `seq` whose attribute `attr` (or, with attr empty, the item)
// passes test `test` (truthiness when empty), kept or rejected.
absl::StatusOr<Value> SelectItems(const Value& seq, const CallArgs& a, bool by_attr, bool keep) {
  GLMQ_ASSIGN_OR_RETURN(List items, Iterate(seq));
  const size_t first = by_attr ? 1 : 0;
  const Value attr = by_attr ? Arg(a, 0, "attribute") : Value::Undefined();
  if (by_attr && !attr.is_string()) return absl::InvalidArgumentError("selectattr needs a name");
  const Value test = Arg(a, first, "test");
  CallArgs test_args;
  for (size_t i = first + 1; i < a.positional.size(); ++i)
    test_args.positional.push_back(a.positional[i]);
  List out;
  for (const Value& item : items) {
    Value v = item;
    if (by_attr) {
      GLMQ_ASSIGN_OR_RETURN(v, GetAttr(item, attr.str()));
    }
    bool pass;
    if (test.is_string()) {
      GLMQ_ASSIGN_OR_RETURN(pass, ApplyTest(test.str(), v, test_args));
    } else {
      pass = v.Truthy();
    }
    if (pass == keep) out.push_back(item);
  }
  return Value::MakeList(std::move(out));
}

absl::StatusOr<Value> Map(const Value& seq, const CallArgs& a) {
  GLMQ_ASSIGN_OR_RETURN(List items, Iterate(seq));
  const Value attr = Arg(a, 99, "attribute");
  List out;
  for (const Value& item : items) {
    if (attr.is_string()) {
      GLMQ_ASSIGN_OR_RETURN(Value v, GetAttr(item, attr.str()));
      if (v.is_undefined()) v = Arg(a, 99, "default");
      out.push_back(std::move(v));
      continue;
    }
    if (a.positional.empty() || !a.positional[0].is_string()) {
      return absl::InvalidArgumentError("map needs a filter name or attribute=");
    }
    CallArgs rest;
    rest.positional.assign(a.positional.begin() + 1, a.positional.end());
    GLMQ_ASSIGN_OR_RETURN(Value v, ApplyFilter(a.positional[0].str(), item, rest));
    out.push_back(std::move(v));
  }
  return Value::MakeList(std::move(out));
}

// int of a float: truncated toward zero; NaN, inf and values past int64 are
// an error (Python raises; a cast would be undefined behaviour).
absl::StatusOr<Value> TruncateToInt(double d) {
  if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("int filter: ", d, " is outside the 64-bit integer range"));
  }
  return Value::Int(static_cast<int64_t>(d));
}

absl::StatusOr<Value> Number(const Value& v, const CallArgs& a, bool to_int) {
  const Value fallback = Arg(a, 0, "default");
  if (v.is_number()) {
    if (!to_int) return Value::Float(v.AsDouble());
    return v.kind() == Value::Kind::kFloat ? TruncateToInt(v.AsDouble()) : Value::Int(v.AsInt());
  }
  if (v.is_string()) {
    const absl::string_view text = absl::StripAsciiWhitespace(v.str());
    int64_t i;
    if (to_int && absl::SimpleAtoi(text, &i)) return Value::Int(i);
    double d;
    if (absl::SimpleAtod(text, &d)) return to_int ? TruncateToInt(d) : Value::Float(d);
  }
  if (!fallback.is_undefined()) return fallback;
  return to_int ? Value::Int(0) : Value::Float(0);
}

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

absl::StatusOr<Value> StringFilter(const std::string& name, const Value& v, const CallArgs& a) {
  if (name == "trim") return Strip(v, Arg(a, 0, "chars"), true, true);
  if (name == "upper") return Rewritten(MapCase(v.str(), Case::kUpper), v);
  if (name == "lower") return Rewritten(MapCase(v.str(), Case::kLower), v);
  if (name == "title") return Rewritten(MapCase(v.str(), Case::kTitleFilter), v);
  if (name == "capitalize") return Rewritten(MapCase(v.str(), Case::kCapitalize), v);
  if (name == "replace") return Replace(v, Arg(a, 0, "old"), Arg(a, 1, "new"), Arg(a, 2, "count"));
  return Rewritten(Escape(v.str()), v);  // escape, e
}

}  // namespace

absl::StatusOr<Value> ApplyFilter(const std::string& name, const Value& v, const CallArgs& a) {
  if (name == "tojson") return ToJson(v, a);
  if (name == "safe") return v;
  if (name == "string") return Value::Text(ToText(v));
  if (name == "default" || name == "d") {
    const bool boolean = Arg(a, 1, "boolean").Truthy();
    if (v.is_undefined() || (boolean && !v.Truthy())) {
      const Value fallback = Arg(a, 0, "default_value");
      return fallback.is_undefined() ? Value::String("") : fallback;
    }
    return v;
  }
  if (name == "length" || name == "count") {
    if (v.is_string()) return Value::Int(CodePointLength(v.str()));
    if (v.is_list()) return Value::Int(static_cast<int64_t>(v.list().size()));
    if (v.is_dict()) return Value::Int(static_cast<int64_t>(v.dict().items.size()));
    if (v.is_undefined()) return Value::Int(0);
    return absl::InvalidArgumentError(absl::StrCat("a ", v.TypeName(), " has no length"));
  }
  if (name == "trim" || name == "upper" || name == "lower" || name == "title" ||
      name == "capitalize" || name == "replace" || name == "escape" || name == "e") {
    const Value s = v.is_string() ? v : Value::Text(ToText(v));
    return StringFilter(name, s, a);
  }
  if (name == "first" || name == "last" || name == "list" || name == "reverse" || name == "join" ||
      name == "unique") {
    GLMQ_ASSIGN_OR_RETURN(List items, Iterate(v));
    if (name == "first") return items.empty() ? Value::Undefined() : items.front();
    if (name == "last") return items.empty() ? Value::Undefined() : items.back();
    if (name == "reverse") {
      std::reverse(items.begin(), items.end());
      if (v.is_string()) return Join(items, Value::String(""));
    }
    if (name == "join") {
      const Value attr = Arg(a, 1, "attribute");
      if (attr.is_string()) {
        for (Value& item : items) {
          GLMQ_ASSIGN_OR_RETURN(item, GetAttr(item, attr.str()));
        }
      }
      const Value sep = Arg(a, 0, "d");
      return Join(items, sep.is_undefined() ? Value::String("") : sep);
    }
    if (name == "unique") {
      List out;
      for (const Value& item : items) {
        if (std::none_of(out.begin(), out.end(), [&](const Value& o) { return o.Equals(item); }))
          out.push_back(item);
      }
      items = std::move(out);
    }
    return Value::MakeList(std::move(items));
  }
  if (name == "items") {
    if (v.is_undefined()) return Value::MakeList({});
    if (!v.is_dict()) return absl::InvalidArgumentError("items needs a dict");
    return BindMethod(v, "items").function()(CallArgs());
  }
  if (name == "selectattr" || name == "rejectattr")
    return SelectItems(v, a, true, name == "selectattr");
  if (name == "select" || name == "reject") return SelectItems(v, a, false, name == "select");
  if (name == "map") return Map(v, a);
  if (name == "int" || name == "float") return Number(v, a, name == "int");
  if (name == "abs") {
    if (!v.is_number()) return absl::InvalidArgumentError("abs needs a number");
    return v.kind() == Value::Kind::kFloat ? Value::Float(std::fabs(v.AsDouble()))
                                           : Value::Int(std::llabs(v.AsInt()));
  }
  return absl::InvalidArgumentError(absl::StrCat("unsupported filter '", name, "'"));
}

}  // namespace glmq::jinja
