// An AWQ ("gemm") or GPTQ (v1, desc_act false) Hugging Face folder of a
// GLM-4 model as canonical tensors (convert/source.h), for
// `glmq convert DIR -o M.glmq`: packed linears become q4 (every zero point
// 8) or q4a (min = -zero * scale, when exact in f16), with the folder's
// group size; dense tensors keep their dtype. Names follow the layout
// tables of convert/ (prefix.qweight / .qzeros / .scales for prefix.weight).
// Errors name the folder and the tensor or quantization_config field.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "pipeline/source.h"
#include "export/gguf_source.h"

namespace glmq::gguf {

// True if DIR/config.json has a quantization_config (then convert imports
// through OpenHfQuantSource).
bool IsHfQuantFolder(const std::string& dir);

absl::StatusOr<std::unique_ptr<TensorSource>> OpenHfQuantSource(const std::string& dir);

// `glmq convert DIR`: OpenHfQuantSource + WriteGlmqFromSource (gguf_source.h).
absl::StatusOr<ImportStats> ImportHfQuant(const std::string& dir, const std::string& out_path,
                                          const std::string& command_line);

}  // namespace glmq::gguf
