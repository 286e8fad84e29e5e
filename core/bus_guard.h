// SIGBUS on mapped files. A file that is truncated (or rewritten in place by
// cp, which truncates first) while glmq maps it makes every access to the
// pages past its new end raise SIGBUS. MappedFile registers its mappings
// here; the handler then:
//  - inside GuardedRead on the faulting thread: jumps back out of it, which
//    returns DataLoss naming the file (used for checksum passes, which touch
//    every byte of a model first);
//  - anywhere else (a kernel reading weights on an OpenMP thread, where no
//    unwinding is possible): writes "glmq: error: '<file>' changed while it
//    was being read ..." to stderr and ends the process with exit code 1;
//  - for addresses outside registered mappings: passes the signal on to the
//    previous handler (or the default action: a crash, as before).
// Content rewritten in place without a truncation cannot be detected this
// way: the checksums at load time (verify-on-load) are the defence there.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace glmq {

// Registers [addr, addr + size) as a mapping of `path`; installs the SIGBUS
// handler on first use. Thread-safe. Up to 256 mappings are tracked (more
// are mapped normally, without the clean message).
void RegisterMapping(const void* addr, uint64_t size, const std::string& path);
void UnregisterMapping(const void* addr);

// Calls fn(arg) on this thread; if a SIGBUS hits a registered mapping while
// it runs, fn is abandoned (so it must own no resources: a plain loop over
// mapped bytes) and DataLoss naming the file and offset is returned.
absl::Status GuardedRead(void (*fn)(void*), void* arg);

}  // namespace glmq
