// Named temporary files removed when the process is stopped by SIGINT,
// SIGTERM or SIGHUP: the handler unlinks every registered path (unlink is
// async-signal-safe), restores the default action and re-raises the signal,
// so the exit status still says which signal ended the process. The
// handler is installed on the first registration, only for signals whose
// disposition is still the default (a program with its own handlers keeps
// them). SIGKILL cannot be caught: outputs avoid named temp files where the
// file system allows (O_TMPFILE, core/output.h).
#pragma once

#include <string>

namespace glmq {

// Registers `path`; returns a slot for UnregisterTempPath, or -1 when all
// slots are taken or the path is too long (then it is not cleaned up on a
// signal, but still by the owner's destructor). Thread-safe.
int RegisterTempPath(const std::string& path);
// Forgets a slot (no-op for -1). Thread-safe.
void UnregisterTempPath(int slot);

}  // namespace glmq
