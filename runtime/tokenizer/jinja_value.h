// Values of glmq's Jinja subset (jinja.h): Python-like undefined, None,
// bool, int, float, str, list, dict (insertion-ordered, string keys) and
// callables, with Python's truthiness, equality, str() and json.dumps().
//
// Strings remember which of their bytes came from untrusted data (message
// contents): the chat encoder lets only trusted bytes form special tokens,
// so "<|user|>" typed by a user stays plain text. Operations that move
// bytes (concatenation, slicing, split, strip) keep the marks; operations
// that rewrite bytes (upper, replace, tojson) mark the whole result
// untrusted if any input byte was.
// Values are immutable once built, except a namespace() dict, which
// `{% set ns.x = ... %}` changes in place (Jinja semantics); copies share.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace glmq::jinja {

// Bounds on what an untrusted template can build: a string (the rendered
// prompt included) and a list. Doubling a value in a loop reaches them in
// a few dozen steps, with an error instead of exhausting memory.
inline constexpr size_t kMaxStringBytes = size_t{64} << 20;
inline constexpr size_t kMaxListItems = size_t{1} << 20;

// A string with the byte ranges [begin, end) that came from untrusted data;
// `untrusted` is sorted, disjoint and never holds two touching ranges.
struct MarkedText {
  struct Span {
    size_t begin, end;
  };
  std::string text;
  std::vector<Span> untrusted;

  void Append(absl::string_view s, bool trusted);
  void Append(const MarkedText& o);
  // Bytes [begin, end) with their marks.
  MarkedText Sub(size_t begin, size_t end) const;
  // True when no byte of [begin, end) is untrusted.
  bool Trusted(size_t begin, size_t end) const;
  bool AllTrusted() const { return untrusted.empty(); }
};

class Value;
using List = std::vector<Value>;

// Insertion-ordered string-keyed map (Python dict order; json.dumps keeps it).
struct Dict {
  std::vector<std::pair<std::string, Value>> items;
  bool is_namespace = false;  // from namespace(): attributes may be set
  bool keys_trusted = true;   // false for dicts read from untrusted JSON
  const Value* Find(absl::string_view key) const;
  void Set(const std::string& key, Value v);
};

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> named;
};
using Function = std::function<absl::StatusOr<Value>(const CallArgs&)>;

class Value {
 public:
  enum class Kind { kUndefined, kNone, kBool, kInt, kFloat, kString, kList, kDict, kFunction };

  Value() = default;  // undefined
  static Value Undefined(std::string name = "");
  static Value None();
  static Value Bool(bool b);
  static Value Int(int64_t i);
  static Value Float(double f);
  static Value String(std::string s, bool trusted = true);
  static Value Text(MarkedText t);
  static Value MakeList(List items);
  static Value MakeDict(std::shared_ptr<Dict> dict);
  static Value MakeFunction(std::string name, Function fn);
  // JSON data (messages, tools): every string in it untrusted unless `trusted`.
  static Value FromJson(const nlohmann::ordered_json& j, bool trusted = false);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::kUndefined; }
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_number() const { return kind_ == Kind::kInt || kind_ == Kind::kFloat || is_bool(); }
  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_list() const { return kind_ == Kind::kList; }
  bool is_dict() const { return kind_ == Kind::kDict; }
  bool is_function() const { return kind_ == Kind::kFunction; }

  bool AsBool() const { return int_ != 0; }
  int64_t AsInt() const { return int_; }  // int or bool
  double AsDouble() const { return kind_ == Kind::kFloat ? float_ : static_cast<double>(int_); }
  const std::string& str() const { return text_.text; }
  const MarkedText& text() const { return text_; }
  const List& list() const { return *list_; }
  Dict& dict() const { return *dict_; }
  const Function& function() const { return *fn_; }
  // The undefined variable's or the function's name, for messages.
  const std::string& name() const { return text_.text; }

  // Python's bool(v); undefined is false.
  bool Truthy() const;
  // Python ==; undefined equals only undefined.
  bool Equals(const Value& o) const;
  // "string", "int", ... for messages.
  const char* TypeName() const;
  // Every string in the value is trusted.
  bool AllTrusted() const;

 private:
  Kind kind_ = Kind::kUndefined;
  int64_t int_ = 0;
  double float_ = 0;
  MarkedText text_;  // kString; the name for kUndefined / kFunction
  std::shared_ptr<const List> list_;
  std::shared_ptr<Dict> dict_;
  std::shared_ptr<const Function> fn_;
};

// Python str(v) as Jinja prints it: undefined "", None "None", True "True",
// floats as repr(), containers as repr().
MarkedText ToText(const Value& v);
// Python repr(v) (strings quoted).
std::string Repr(const Value& v);
// Python repr() of a float ("1.0", "1e-05", "1e+16").
std::string FloatRepr(double f);

struct JsonDumpOptions {
  int indent = -1;  // < 0: one line
  bool ensure_ascii = false;
  bool sort_keys = false;
  std::string item_separator, key_separator;  // empty: Python's defaults
};
// Python json.dumps(v, ...) as transformers' tojson filter calls it
// (ensure_ascii=False by default). Error for undefined and functions.
absl::StatusOr<std::string> JsonDumps(const Value& v, const JsonDumpOptions& options);

}  // namespace glmq::jinja
