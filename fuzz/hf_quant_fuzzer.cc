// AWQ / GPTQ folder import (glmq convert DIR with a quantization_config):
// config.json, safetensors shards and tokenizer files packed into one input
// (fuzz_util.h PackFolder), opened by OpenHfQuantSource, then every
// tensor's rows read (packed linears unpacked into q4 / q4a groups).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "export/hf_quant_source.h"
#include "fuzz/fuzz_util.h"
#include "schema/weight.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto src = glmq::gguf::OpenHfQuantSource(glmq::fuzz::ScratchFolder(data, size));
  if (!src.ok()) return 0;
  std::vector<uint8_t> rows;
  for (const auto& e : (*src)->metadata().tensors()) {
    const auto row_bytes = glmq::RowBytes(e);
    const int64_t n = glmq::TensorRows(e);
    if (!row_bytes.ok() || n <= 0 || *row_bytes == 0 || *row_bytes > (uint64_t{1} << 20)) continue;
    const int64_t chunk = std::max<int64_t>(1, static_cast<int64_t>((1u << 16) / *row_bytes));
    for (int64_t r = 0; r < n; r += chunk) {
      const int64_t end = std::min(n, r + chunk);
      rows.resize(static_cast<size_t>(end - r) * *row_bytes);
      if (!(*src)->ReadRowsRaw(e, r, end, rows.data()).ok()) break;
    }
  }
  return 0;
}
