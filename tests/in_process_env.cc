// Linked into every glmq_test binary: tests rewrite the files they read in
// place (corrupting a fixture copy, say), which the output policy refuses
// by default (core/output.h). Tests of the policy itself turn it back on;
// the CLI tests run the real binary, which keeps it.
#include "core/output.h"

namespace {
const bool kAllowRewrites = [] {
  glmq::SetOutputMayReplaceInputs(true);
  return true;
}();
}  // namespace
