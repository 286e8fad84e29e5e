// Runs the real `glmq` binary from a test: exit code and merged output.
// GLMQ_CLI: the binary's path, a compile definition of tests declared with
// glmq_test(... CLI).
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace glmq::testing {

struct CliResult {
  int exit_code = -1;  // -1 when the process did not exit normally
  std::string output;  // stdout then stderr, interleaved as written
};

// Runs `glmq ARGS`, with stderr merged into the output or discarded.
inline CliResult RunGlmqCommand(const std::string& args, bool with_stderr) {
  CliResult r;
  const std::string cmd =
      std::string(GLMQ_CLI) + " " + args + (with_stderr ? " 2>&1" : " 2>/dev/null");
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) r.output.append(buf, n);
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

inline CliResult RunGlmq(const std::string& args) { return RunGlmqCommand(args, true); }

// stdout only, for machine-readable output (--json, --csv).
inline CliResult RunGlmqStdout(const std::string& args) { return RunGlmqCommand(args, false); }

}  // namespace glmq::testing
