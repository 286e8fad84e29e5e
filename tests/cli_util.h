// Runs the real `glmq` binary from a test: exit code and merged output.
// Tests that use it get GLMQ_CLI from tests/CMakeLists (glmq_cli_test).
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace glmq::testing {

struct CliResult {
  int exit_code = -1;  // -1 when the process did not exit normally
  std::string output;  // stdout then stderr, interleaved as written
};

inline CliResult RunGlmq(const std::string& args) {
  CliResult r;
  const std::string cmd = std::string(GLMQ_CLI) + " " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) r.output.append(buf, n);
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// stdout only (stderr discarded), for machine-readable output (--json, --csv).
inline CliResult RunGlmqStdout(const std::string& args) {
  return RunGlmq(args + " 2>/dev/null");
}

}  // namespace glmq::testing
