// The context and KV cache flags that `glmq eval`, `glmq generate` and
// `glmq logits` share (--kv, --ctx-override, --chunk, --mem-limit), and
// turning them into SessionOptions: a context above the model's maximum, or one whose KV cache
// does not fit in memory, is refused before anything is allocated, with the
// flag to change named.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "runtime/session.h"

namespace glmq::tools {

struct SessionFlags {
  std::string kv = "f32";
  bool ctx_override = false;
  int64_t chunk = 512;
  std::string mem_limit;  // e.g. "8G"; empty: the memory available now
  std::string device = "cpu";  // --device: cpu, cuda or cuda:N
};

// Adds --kv, --ctx-override, --chunk and --mem-limit to `sub`.
void AddSessionFlags(CLI::App* sub, SessionFlags* flags);

// A session of `ctx` positions (`ctx_flag`: the option that set it, for
// errors; 0: min(fallback, the model's maximum)) on `model`. Warns on stderr
// when --ctx-override lets ctx pass the model's maximum.
absl::StatusOr<std::unique_ptr<Session>> NewSession(const Model& model, const SessionFlags& flags,
                                                    int64_t ctx, const std::string& ctx_flag,
                                                    bool all_logits = true,
                                                    int64_t fallback = 4096);

}  // namespace glmq::tools
