// Where a model runs: the --device flag ("cpu", "cuda", "cuda:N") and the
// backend it names.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "runtime/backend.h"

namespace glmq {

struct DeviceSpec {
  enum Kind { kCpu, kCuda } kind = kCpu;
  int index = 0;  // cuda only
};

// "cpu", "cuda" (= cuda:0) or "cuda:N". The error names the flag value and
// the accepted forms.
absl::StatusOr<DeviceSpec> ParseDevice(absl::string_view device);
std::string DeviceName(const DeviceSpec& d);  // "cpu", "cuda:1"

// The backend of `device`: a CpuBackend on n_threads threads (<= 0:
// OpenMP's default), or the CUDA backend (FailedPrecondition without a
// device or in a build without CUDA).
absl::StatusOr<std::unique_ptr<Backend>> MakeBackend(const DeviceSpec& device, int n_threads);

}  // namespace glmq
