// .glmq -> GGUF v3 for llama.cpp (and Ollama): `glmq export --to gguf`.
//
// Exact by construction (docs/export.md): q8 / q4 / q4a tensors whose rows
// are whole blocks of 32 become Q8_0 / Q4_0 / Q4_1 with the same scales,
// mins and codes (groups over 32 repeat their header in every 32-value
// block, so the file grows but every decoded value is bit-identical); rows
// that are not whole blocks are written as F32 (the decoded values, exact);
// bf16 / f16 / f32 matrices stay as they are; 1-D tensors (norms, biases)
// become F32 as llama.cpp expects. Streams tensor by tensor in row chunks
// (memory is one chunk), through a temp file renamed when complete.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace glmq::gguf {

struct ExportTensorNote {
  std::string name;      // GGUF tensor name
  std::string type;      // "Q4_0", "F32", ...
  std::string from;      // glmq encoding, e.g. "q4 g128"
  bool widened = false;  // stored in a larger form than in glmq (repeated headers or F32)
};

struct GgufExportStats {
  int n_tensors = 0;
  uint64_t file_bytes = 0;
  double seconds = 0;
  std::string arch;
  int64_t n_merges = 0;
  int64_t unmergeable_tokens = 0;
  std::vector<ExportTensorNote> tensors;
};

struct GgufExportOptions {
  uint64_t chunk_bytes = 16ull << 20;  // rows read and converted at a time
};

absl::StatusOr<GgufExportStats> ExportGguf(const std::string& glmq_path,
                                           const std::string& out_path,
                                           const GgufExportOptions& options = {});

// Error if `out` names the same file as `in` (never overwrite the input).
absl::Status CheckNotSameFile(const std::string& in, const std::string& out);

}  // namespace glmq::gguf
