// .glmq -> a Hugging Face folder in AWQ ("gemm") or GPTQ (v1) packing, for
// vLLM, SGLang and transformers: `glmq export M.glmq --to awq|gptq -o DIR`.
//
// The block linears (attn_qkv, attn_output, ffn_gate_up, ffn_down) must be
// 4-bit groups with one group size (q4, or q4a whose mins are integer zero
// points; export/hf_quant.h); they are written under the source layout's
// HF names (TensorEntry.source_names: q/k/v_proj split back for
// GlmForCausalLM / Glm4ForCausalLM, query_key_value kept for ChatGLM) as
// qweight / qzeros / scales (+ g_idx). Dense tensors keep their dtype;
// a quantized embedding or output projection is written as F32 (its exact
// values). config.json is the source's with quantization_config added;
// tokenizer files and generation_config.json are copied. Anything else is
// refused with a message naming the tensor and the preset that exports.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "export/hf_quant.h"

namespace glmq::gguf {

struct HfQuantExportStats {
  int quantized_linears = 0;  // HF linears written as qweight/qzeros/scales
  int dense_tensors = 0;
  int widened_to_f32 = 0;  // quantized non-linears written as F32
  int group_size = 0;      // -1: one group per row (GPTQ only)
  bool symmetric = true;   // every zero point is 8
  uint64_t bytes = 0;
  int shards = 0;
};

absl::StatusOr<HfQuantExportStats> ExportHfQuant(const std::string& glmq_path,
                                                 const std::string& out_dir, HfQuantFormat format,
                                                 uint64_t shard_bytes = 4ull << 30);

}  // namespace glmq::gguf
