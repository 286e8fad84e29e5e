// JSON parsing that returns Status instead of throwing (nlohmann::json is
// the parser; it never throws out of these helpers). `where` names the file
// or field in error messages.
#pragma once

#include "absl/strings/string_view.h"
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace glmq {

using Json = nlohmann::json;

// Deepest nesting of arrays and objects accepted (GLM-4 files nest < 10).
inline constexpr int kMaxJsonDepth = 128;

// Parses `text`; the error names `where` and the byte position. Never
// throws: syntax errors, numbers out of range (1e400), nesting deeper than
// kMaxJsonDepth and a key repeated within one object are errors.
absl::StatusOr<Json> ParseJson(absl::string_view text, absl::string_view where);
// Reads (input kind kJson: a regular file of at most 64 MiB) and parses.
absl::StatusOr<Json> ReadJsonFile(const std::string& path);

// Typed field access: a missing or mistyped field is an error naming
// "<where>: field '<key>'". The Optional* variants return `fallback` when the
// field is absent (or null) but still reject a wrong type.
absl::StatusOr<int64_t> GetInt(const Json& obj, absl::string_view key, absl::string_view where);
absl::StatusOr<double> GetNumber(const Json& obj, absl::string_view key, absl::string_view where);
absl::StatusOr<bool> GetBool(const Json& obj, absl::string_view key, absl::string_view where);
absl::StatusOr<std::string> GetString(const Json& obj, absl::string_view key,
                                      absl::string_view where);
absl::StatusOr<int64_t> GetOptionalInt(const Json& obj, absl::string_view key, int64_t fallback,
                                       absl::string_view where);
absl::StatusOr<double> GetOptionalNumber(const Json& obj, absl::string_view key, double fallback,
                                         absl::string_view where);
absl::StatusOr<bool> GetOptionalBool(const Json& obj, absl::string_view key, bool fallback,
                                     absl::string_view where);
// An int or a list of ints (like eos_token_id).
absl::StatusOr<std::vector<int64_t>> GetIntOrIntList(const Json& obj, absl::string_view key,
                                                     absl::string_view where);

}  // namespace glmq
