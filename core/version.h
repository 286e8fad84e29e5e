// What glmq records about itself and the time in the files it writes.
#pragma once

#include <string>

namespace glmq {

// "glmq 0.1.0" (provenance.tool_version).
std::string GlmqToolVersion();
// The current UTC time, RFC 3339: "2025-01-31T12:34:56Z".
std::string UtcNowRfc3339();

}  // namespace glmq
