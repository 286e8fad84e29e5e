// Filters, tests, methods, attribute / item access and global functions of
// glmq's Jinja subset (internal to jinja*.cc). Errors are plain messages;
// the renderer adds the template line.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "runtime/tokenizer/jinja_value.h"

namespace glmq::jinja {

// obj.name: a dict's or string's method (bound), else a dict key; an
// absent one is undefined. Error on undefined obj.
absl::StatusOr<Value> GetAttr(const Value& obj, const std::string& name);
// obj[key]: dict key, list / string index (negative from the end).
absl::StatusOr<Value> GetItem(const Value& obj, const Value& key);
// obj[start:stop:step] for lists and strings (code points); parts may be
// undefined (omitted).
absl::StatusOr<Value> GetSlice(const Value& obj, const Value& start, const Value& stop,
                               const Value& step);

absl::StatusOr<Value> ApplyFilter(const std::string& name, const Value& v, const CallArgs& args);
absl::StatusOr<bool> ApplyTest(const std::string& name, const Value& v, const CallArgs& args);

// a OP b for the arithmetic, comparison and membership operators.
absl::StatusOr<Value> BinaryOp(const std::string& op, const Value& a, const Value& b);

// The items a for loop walks: list items, dict keys, string characters;
// nothing for undefined.
absl::StatusOr<List> Iterate(const Value& v);

// raise_exception, namespace, range, dict, strftime_now.
Value Global(const std::string& name);

// Code point length of a UTF-8 string.
int64_t CodePointLength(absl::string_view s);

}  // namespace glmq::jinja
