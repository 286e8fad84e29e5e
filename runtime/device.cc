#include "runtime/device.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "runtime/cpu/cpu_backend.h"
#include "runtime/cuda/cuda_backend.h"

namespace glmq {

absl::StatusOr<DeviceSpec> ParseDevice(absl::string_view device) {
  DeviceSpec d;
  if (device == "cpu") return d;
  d.kind = DeviceSpec::kCuda;
  if (device == "cuda") return d;
  absl::string_view rest = device;
  if (absl::ConsumePrefix(&rest, "cuda:") && absl::SimpleAtoi(rest, &d.index) && d.index >= 0 &&
      !rest.empty() && rest[0] != '+') {
    return d;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--device '", device, "': expected cpu, cuda or cuda:N (N >= 0)"));
}

std::string DeviceName(const DeviceSpec& d) {
  return d.kind == DeviceSpec::kCpu ? "cpu" : absl::StrCat("cuda:", d.index);
}

absl::StatusOr<std::unique_ptr<Backend>> MakeBackend(const DeviceSpec& device, int n_threads) {
  if (device.kind == DeviceSpec::kCuda) return MakeCudaBackend(device.index);
  return std::unique_ptr<Backend>(std::make_unique<CpuBackend>(n_threads));
}

}  // namespace glmq
