// GGUF import (glmq convert M.gguf): the strict reader, the arch and
// tokenizer keys -> metadata, then every tensor's rows read and decoded.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "export/gguf_source.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto src = glmq::gguf::OpenGgufSource(glmq::fuzz::ScratchFile(data, size));
  if (!src.ok()) return 0;
  std::vector<float> rows;
  for (const auto& e : (*src)->metadata().tensors()) {
    const int64_t n = glmq::TensorRows(e), cols = glmq::TensorCols(e);
    if (n <= 0 || cols <= 0 || cols > (int64_t{1} << 20)) continue;
    const int64_t chunk = std::max<int64_t>(1, (int64_t{1} << 16) / cols);
    for (int64_t r = 0; r < n; r += chunk) {
      const int64_t end = std::min(n, r + chunk);
      rows.resize(static_cast<size_t>((end - r) * cols));
      if (!(*src)->ReadRowsF32(e, r, end, rows.data()).ok()) break;
    }
  }
  return 0;
}
