// GGUF -> canonical tensors: a TensorSource (convert/source.h) over a GGUF
// file of a GLM-4 model (llama.cpp archs chatglm and glm4), so that
// `glmq convert M.gguf -o M.glmq` streams it like an HF checkpoint.
//
// F32 / F16 / BF16 tensors keep their encoding; Q8_0 / Q4_0 / Q4_1 rows are
// byte-identical to glmq q8 / q4 / q4a with group size 32 and are copied;
// split attn_q/k/v are fused back into attn_qkv (rows q|k|v). Other ggml
// types (K-quants, IQ*) are refused with a message naming the tensor and
// type. Hyperparameters come from the arch's keys, the tokenizer from
// tokenizer.ggml.* (gguf_vocab.h). Every error names the file and the key
// or tensor.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "pipeline/source.h"

namespace glmq::gguf {

absl::StatusOr<std::unique_ptr<TensorSource>> OpenGgufSource(const std::string& path);

struct ImportStats {
  int n_tensors = 0;
  uint64_t file_bytes = 0;
  double seconds = 0;
};

// Writes every tensor of `src` unchanged (its stored encoding, in row
// chunks) and its metadata into a new .glmq at `out_path`.
absl::StatusOr<ImportStats> WriteGlmqFromSource(const TensorSource& src,
                                                const std::string& out_path,
                                                const std::string& command_line);

// `glmq convert M.gguf`: OpenGgufSource + WriteGlmqFromSource.
absl::StatusOr<ImportStats> ImportGguf(const std::string& gguf_path, const std::string& out_path,
                                       const std::string& command_line);

}  // namespace glmq::gguf
