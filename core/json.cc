#include "core/json.h"

#include <limits>
#include <string>
#include <unordered_set>
#include <vector>

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

namespace {

// Byte offset where nesting first exceeds kMaxJsonDepth, or npos. Scanned
// before parsing so that no recursive walk (dump, destruction, our own
// readers) ever sees a deeper document.
size_t TooDeepAt(absl::string_view text) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) return i;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return absl::string_view::npos;
}

}  // namespace

absl::StatusOr<Json> ParseJson(absl::string_view text, absl::string_view where) {
  if (const size_t at = TooDeepAt(text); at != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": JSON nested deeper than ",
                                                   kMaxJsonDepth, " levels at byte ", at));
  }
  // Objects open on this stack; the first repeated key is remembered (a
  // repeated key is ambiguous: nlohmann keeps the last, others the first).
  std::vector<std::unordered_set<std::string>> open;
  std::string duplicate;
  auto callback = [&](int, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
        open.emplace_back();
        break;
      case Json::parse_event_t::object_end:
        if (!open.empty()) open.pop_back();
        break;
      case Json::parse_event_t::key:
        if (!open.empty() && parsed.is_string() &&
            !open.back().insert(parsed.get_ref<const std::string&>()).second &&
            duplicate.empty()) {
          duplicate = parsed.get<std::string>();
        }
        break;
      default:
        break;
    }
    return true;
  };
  try {
    Json j = Json::parse(text.begin(), text.end(), callback);
    if (!duplicate.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": key '", duplicate, "' appears twice in one JSON object"));
    }
    return j;
  } catch (const Json::parse_error& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": invalid JSON at byte ", e.byte, ": ", e.what()));
  } catch (const Json::exception& e) {  // out_of_range: a number like 1e400
    return absl::InvalidArgumentError(absl::StrCat(where, ": invalid JSON: ", e.what()));
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(absl::StrCat(where, ": out of memory parsing JSON"));
  }
}

absl::StatusOr<Json> ReadJsonFile(const std::string& path) {
  GLMQ_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path, InputKind::kJson));
  return ParseJson(text, path);
}

absl::StatusOr<int64_t> GetInt(const Json& obj, absl::string_view key, absl::string_view where) {
  const Json* v = Find(obj, key);
  if (v == nullptr) return FieldError(where, key, "is missing");
  if (v->is_number_unsigned()) {
    const uint64_t u = v->get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return FieldError(where, key, absl::StrCat("is ", u, ", beyond the 64-bit integer range"));
    return static_cast<int64_t>(u);
  }
  if (v->is_number_integer()) return v->get<int64_t>();
  if (v->is_number_float()) {
    // Exactly representable integers only, and inside int64's range (the
    // cast of a larger double is undefined behaviour).
    const double d = v->get<double>();
    if (d >= -9.2233720368547758e18 && d < 9.2233720368547758e18 &&
        d == static_cast<double>(static_cast<int64_t>(d))) {
      return static_cast<int64_t>(d);
    }
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
  auto in_range = [](const Json& e) {
    return e.is_number_integer() &&
           (!e.is_number_unsigned() ||
            e.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()));
  };
  if (v->is_number_integer()) {
    if (!in_range(*v)) return FieldError(where, key, "is beyond the 64-bit integer range");
    out.push_back(v->get<int64_t>());
    return out;
  }
  if (!v->is_array()) return FieldError(where, key, "must be an integer or a list of integers");
  for (const Json& e : *v) {
    if (!in_range(e)) return FieldError(where, key, "must hold 64-bit integers only");
    out.push_back(e.get<int64_t>());
  }
  return out;
}

}  // namespace glmq
