// Subcommand registry of the glmq CLI. Each tools/<name>.cc registers itself
// with a static GLMQ_COMMAND; main.cc builds the CLI11 app from the registry.
// Commands return a Status; main turns it into "glmq <cmd>: error: ..." and
// exit code 1.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"

namespace glmq::tools {

using RunFn = std::function<absl::Status()>;
// Adds options to `sub` (binding them to state the returned RunFn captures)
// and returns the function that runs the command.
using SetupFn = std::function<RunFn(CLI::App* sub)>;

struct CommandInfo {
  std::string name;
  std::string help;
  SetupFn setup;
};

std::vector<CommandInfo>& CommandRegistry();

struct CommandRegistration {
  CommandRegistration(std::string name, std::string help, SetupFn setup) {
    CommandRegistry().push_back({std::move(name), std::move(help), std::move(setup)});
  }
};

// The exact command line, for provenance records.
const std::string& CommandLine();

}  // namespace glmq::tools

#define GLMQ_COMMAND(id, name, help, setup) \
  static ::glmq::tools::CommandRegistration glmq_command_##id(name, help, setup)
