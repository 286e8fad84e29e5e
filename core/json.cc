#include "core/json.h"

#include "absl/strings/str_cat.h"
#include "core/file.h"
#include "core/status.h"

namespace glmq {
namespace {

absl::Status FieldError(absl::string_view where, absl::string_view key, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(where, ": field '", key, "' ", what));
}

const Json* Find(const Json& obj, absl::string_view key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(std::string(key));
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

}  // namespace

absl::StatusOr<Json> ParseJson(absl::string_view text, absl::string_view where) {
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const Json::parse_error& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": invalid JSON at byte ", e.byte, ": ", e.what()));
  }
}

absl::StatusOr<Json> ReadJsonFile(const std::string& path) {
  GLMQ_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  return ParseJson(text, path);
}

absl::StatusOr<int64_t> GetInt(const Json& obj, absl::string_view key, absl::string_view where) {
  const Json* v = Find(obj, key);
  if (v == nullptr) return FieldError(where, key, "is missing");
  if (v->is_number_integer()) return v->get<int64_t>();
  if (v->is_number_float()) {
    const double d = v->get<double>();
    if (d == static_cast<double>(static_cast<int64_t>(d))) return static_cast<int64_t>(d);
  }
  return FieldError(where, key, absl::StrCat("must be an integer, got ", v->dump()));
}

absl::StatusOr<double> GetNumber(const Json& obj, absl::string_view key, absl::string_view where) {
  const Json* v = Find(obj, key);
  if (v == nullptr) return FieldError(where, key, "is missing");
  if (!v->is_number()) return FieldError(where, key, absl::StrCat("must be a number, got ", v->dump()));
  return v->get<double>();
}

absl::StatusOr<bool> GetBool(const Json& obj, absl::string_view key, absl::string_view where) {
  const Json* v = Find(obj, key);
  if (v == nullptr) return FieldError(where, key, "is missing");
  if (!v->is_boolean()) return FieldError(where, key, absl::StrCat("must be a boolean, got ", v->dump()));
  return v->get<bool>();
}

absl::StatusOr<std::string> GetString(const Json& obj, absl::string_view key,
                                      absl::string_view where) {
  const Json* v = Find(obj, key);
  if (v == nullptr) return FieldError(where, key, "is missing");
  if (!v->is_string()) return FieldError(where, key, absl::StrCat("must be a string, got ", v->dump()));
  return v->get<std::string>();
}

absl::StatusOr<int64_t> GetOptionalInt(const Json& obj, absl::string_view key, int64_t fallback,
                                       absl::string_view where) {
  if (Find(obj, key) == nullptr) return fallback;
  return GetInt(obj, key, where);
}

absl::StatusOr<double> GetOptionalNumber(const Json& obj, absl::string_view key, double fallback,
                                         absl::string_view where) {
  if (Find(obj, key) == nullptr) return fallback;
  return GetNumber(obj, key, where);
}

absl::StatusOr<bool> GetOptionalBool(const Json& obj, absl::string_view key, bool fallback,
                                     absl::string_view where) {
  if (Find(obj, key) == nullptr) return fallback;
  return GetBool(obj, key, where);
}

absl::StatusOr<std::vector<int64_t>> GetIntOrIntList(const Json& obj, absl::string_view key,
                                                     absl::string_view where) {
  const Json* v = Find(obj, key);
  if (v == nullptr) return FieldError(where, key, "is missing");
  std::vector<int64_t> out;
  if (v->is_number_integer()) {
    out.push_back(v->get<int64_t>());
    return out;
  }
  if (!v->is_array()) return FieldError(where, key, "must be an integer or a list of integers");
  for (const Json& e : *v) {
    if (!e.is_number_integer()) return FieldError(where, key, "must hold integers only");
    out.push_back(e.get<int64_t>());
  }
  return out;
}

}  // namespace glmq
