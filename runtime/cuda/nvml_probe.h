// Device memory as the driver counts it (NVML, loaded at run time with
// dlopen, so glmq neither links nor needs libnvidia-ml): used by
// `glmq plan --measure` to read the memory in use on a GPU before this
// process creates its CUDA context, so that the context itself is measured.
// Plain C++; on a machine without the driver every call is Unavailable.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace glmq::cuda {

struct NvmlMemory {
  uint64_t used = 0;  // bytes in use on the device (all processes)
  uint64_t total = 0;
  std::string driver;  // "580.159.04"
  std::string name;    // "NVIDIA H100 80GB HBM3"
};

// The device with PCI bus id `pci_bus_id` ("0000:17:00.0", as
// cudaDeviceGetPCIBusId writes it). Unavailable when libnvidia-ml.so.1
// cannot be loaded or has no such device.
absl::StatusOr<NvmlMemory> NvmlDeviceMemory(const std::string& pci_bus_id);

}  // namespace glmq::cuda
