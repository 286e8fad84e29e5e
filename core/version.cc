#include "core/version.h"

#include <ctime>

#include "absl/strings/str_cat.h"

namespace glmq {

std::string GlmqToolVersion() { return absl::StrCat("glmq ", GLMQ_VERSION); }

std::string UtcNowRfc3339() {
  const std::time_t now = std::time(nullptr);
  std::tm tm;
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace glmq
