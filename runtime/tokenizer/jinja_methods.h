// Python methods of strings and dicts that chat templates call
// (content.strip(), message.get("metadata", ""), d.items(), ...), internal
// to jinja*.cc. Implemented in jinja_filters.cc.
#pragma once

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "runtime/tokenizer/jinja_value.h"

namespace glmq::jinja {

// Whether `obj` (a string or dict) has method `name`.
bool HasMethod(const Value& obj, const std::string& name);
// The method bound to `obj`, as a callable value.
Value BindMethod(const Value& obj, const std::string& name);

// Byte offset of each code point of `s`, then s.size().
std::vector<size_t> CodePointOffsets(absl::string_view s);

}  // namespace glmq::jinja
