#include "runtime/cuda/nvml_probe.h"

#include <dlfcn.h>

#include "absl/strings/str_cat.h"

namespace glmq::cuda {
namespace {

// The NVML ABI pieces used here (nvml.h: nvmlMemory_t is three unsigned
// long longs, nvmlReturn_t an int with NVML_SUCCESS = 0).
struct NvmlMemoryV1 {
  unsigned long long total, free, used;
};
using NvmlDevice = void*;
using InitFn = int (*)();
using ByPciFn = int (*)(const char*, NvmlDevice*);
using MemFn = int (*)(NvmlDevice, NvmlMemoryV1*);
using StringFn = int (*)(char*, unsigned);
using NameFn = int (*)(NvmlDevice, char*, unsigned);

template <typename F>
F Symbol(void* lib, const char* name) {
  return reinterpret_cast<F>(dlsym(lib, name));
}

}  // namespace

absl::StatusOr<NvmlMemory> NvmlDeviceMemory(const std::string& pci_bus_id) {
  // Kept loaded for the process (NVML keeps state between calls).
  static void* lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr)
    return absl::UnavailableError("NVML (libnvidia-ml.so.1) cannot be loaded: no NVIDIA driver");
  const auto init = Symbol<InitFn>(lib, "nvmlInit_v2");
  const auto by_pci = Symbol<ByPciFn>(lib, "nvmlDeviceGetHandleByPciBusId_v2");
  const auto mem = Symbol<MemFn>(lib, "nvmlDeviceGetMemoryInfo");
  const auto driver = Symbol<StringFn>(lib, "nvmlSystemGetDriverVersion");
  const auto name = Symbol<NameFn>(lib, "nvmlDeviceGetName");
  if (!init || !by_pci || !mem || !driver || !name)
    return absl::UnavailableError("NVML lacks a function glmq needs");
  static const int init_rc = init();
  if (init_rc != 0) return absl::UnavailableError(absl::StrCat("nvmlInit failed: ", init_rc));
  NvmlDevice dev = nullptr;
  if (int rc = by_pci(pci_bus_id.c_str(), &dev); rc != 0)
    return absl::UnavailableError(absl::StrCat("NVML has no device ", pci_bus_id, " (", rc, ")"));
  NvmlMemoryV1 m{};
  if (int rc = mem(dev, &m); rc != 0)
    return absl::UnavailableError(absl::StrCat("nvmlDeviceGetMemoryInfo failed: ", rc));
  NvmlMemory out;
  out.used = m.used;
  out.total = m.total;
  char buf[96] = {};
  if (driver(buf, sizeof(buf)) == 0) out.driver = buf;
  char nbuf[96] = {};
  if (name(dev, nbuf, sizeof(nbuf)) == 0) out.name = nbuf;
  return out;
}

}  // namespace glmq::cuda
