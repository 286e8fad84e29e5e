// What `glmq --version` reports about the build: filled by CMake
// (tools/build_info.cmake writes build_info.cc in the build folder at every
// build, so the git commit is the one the binary was built from).
#pragma once

namespace glmq::tools {

struct BuildInfo {
  const char* version;     // the project version, "0.1.0"
  const char* git_commit;  // short hash, "+" when the work tree had changes; "unknown" without git
  const char* build_type;  // CMAKE_BUILD_TYPE
  bool cuda;               // built with GLMQ_CUDA
};

const BuildInfo& GetBuildInfo();

}  // namespace glmq::tools
