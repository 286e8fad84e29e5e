// glmq: convert, quantize and evaluate GLM-4 checkpoints. See README.md.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/cpu_features.h"
#include "core/output.h"
#include "tools/build_info.h"
#include "tools/command.h"

namespace glmq::tools {

std::vector<CommandInfo>& CommandRegistry() {
  static std::vector<CommandInfo> registry;
  return registry;
}

std::string g_command_line;  // set once in main()

const std::string& CommandLine() { return g_command_line; }

namespace {

// libgomp's default makes idle threads spin for up to ~300k iterations at
// every barrier. On a busy machine (other jobs, fewer free cores than threads)
// a spinning thread holds the core the thread it waits for needs: measured on
// the 2-core dev box under load, tiny-model decode fell from ~900 to 3 tok/s.
// Passive waiting costs a futex wake per parallel region (microseconds;
// nothing next to a real model's per-token work). libgomp reads the policy
// once at load time, so set it and re-exec; OMP_WAIT_POLICY or GOMP_SPINCOUNT
// in the environment win.
void PreferPassiveOpenMpWaits(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr || std::getenv("GOMP_SPINCOUNT") != nullptr)
    return;
  ::setenv("OMP_WAIT_POLICY", "passive", 1);
  ::execv("/proc/self/exe", argv);  // returns only on failure: run on as we are
}

std::string VersionText() {
  const BuildInfo& b = GetBuildInfo();
  return absl::StrCat("glmq ", b.version, "\ngit commit ", b.git_commit, "\nbuild type ",
                      b.build_type, "\nSIMD ", SimdLevelName(ActiveSimdLevel()),
                      " (the best this CPU has, capped by GLMQ_SIMD)\nCUDA ",
                      b.cuda ? "on" : "off");
}

// Usage errors at the top level (no command, an unknown one) exit with 2
// and list the commands, instead of CLI11's "A subcommand is required".
int Usage(const std::vector<CommandInfo>& registry, const std::string& problem) {
  std::fprintf(stderr, "glmq: %s\ncommands:\n", problem.c_str());
  for (const CommandInfo& c : registry) {
    std::fprintf(stderr, "  %-10s %s\n", c.name.c_str(), c.help.c_str());
  }
  std::fprintf(stderr, "glmq COMMAND --help for a command's options; glmq --version\n");
  return 2;
}

}  // namespace

}  // namespace glmq::tools

int main(int argc, char** argv) {
  using namespace glmq::tools;
  PreferPassiveOpenMpWaits(argv);
  std::vector<std::string> args(argv, argv + argc);
  g_command_line = absl::StrJoin(args, " ");

  CLI::App app{"glmq: convert, quantize and evaluate GLM-4 family checkpoints"};
  app.require_subcommand(1);
  app.set_version_flag("-V,--version", VersionText());
  // Outputs never replace an input file (core/output.h) unless --force,
  // which any command takes (fallthrough: it may follow the subcommand).
  bool force = false;
  app.add_flag("--force", force, "let an output (-o) replace one of the command's input files");
  app.fallthrough();
  auto& registry = CommandRegistry();
  std::sort(registry.begin(), registry.end(),
            [](const CommandInfo& a, const CommandInfo& b) { return a.name < b.name; });
  if (argc < 2) return Usage(registry, "no command given");
  if (argv[1][0] != '-' &&
      std::none_of(registry.begin(), registry.end(),
                   [&](const CommandInfo& c) { return c.name == argv[1]; })) {
    return Usage(registry, absl::StrCat("unknown command '", argv[1], "'"));
  }
  std::map<CLI::App*, std::pair<std::string, RunFn>> runs;
  for (const CommandInfo& c : registry) {
    CLI::App* sub = app.add_subcommand(c.name, c.help);
    runs[sub] = {c.name, c.setup(sub)};
  }
  CLI11_PARSE(app, argc, argv);
  glmq::SetOutputMayReplaceInputs(force);
  for (auto& [sub, run] : runs) {
    if (!sub->parsed()) continue;
    const absl::Status status = run.second();
    if (!status.ok()) {
      std::fprintf(stderr, "glmq %s: error: %s\n", run.first.c_str(),
                   std::string(status.message()).c_str());
      return 1;
    }
    return 0;
  }
  return 1;
}
