// Status helpers: absl 20220623 has no status macros, so we keep our own.
// Library code returns absl::Status / absl::StatusOr; only tools/ turns a
// Status into a message and an exit code.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

#define GLMQ_CONCAT_INNER_(a, b) a##b
#define GLMQ_CONCAT_(a, b) GLMQ_CONCAT_INNER_(a, b)

// Returns from the enclosing function if `expr` (a Status) is not OK.
#define GLMQ_RETURN_IF_ERROR(expr)                \
  do {                                            \
    ::absl::Status glmq_status_ = (expr);         \
    if (!glmq_status_.ok()) return glmq_status_;  \
  } while (0)

// GLMQ_ASSIGN_OR_RETURN(auto x, Foo()); declares/assigns x from a StatusOr,
// or returns its error.
#define GLMQ_ASSIGN_OR_RETURN(lhs, rexpr) \
  GLMQ_ASSIGN_OR_RETURN_IMPL_(GLMQ_CONCAT_(glmq_statusor_, __LINE__), lhs, rexpr)
#define GLMQ_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                                \
  if (!tmp.ok()) return std::move(tmp).status();     \
  lhs = std::move(tmp).value()

namespace glmq {

// Prefixes a non-OK status message with context ("reading foo.safetensors: ").
inline absl::Status Annotate(const absl::Status& s, absl::string_view context) {
  if (s.ok()) return s;
  return absl::Status(s.code(), absl::StrCat(context, ": ", s.message()));
}

}  // namespace glmq
