// safetensors header parser (length prefix, JSON header, offsets).
#include <cstddef>
#include <cstdint>

#include "convert/safetensors.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto file = glmq::SafetensorsFile::Open(glmq::fuzz::ScratchFile(data, size));
  if (!file.ok()) return 0;
  for (const auto& t : (*file)->tensors()) {
    auto bytes = (*file)->Data(t);
    volatile uint8_t sink = bytes.empty() ? 0 : bytes[bytes.size() - 1];
    (void)sink;
  }
  return 0;
}
