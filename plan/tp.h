// Tensor parallelism as vLLM shards a GLM-4 (specs/vram.md, "Tensor
// parallel"): per GPU of N, query heads n_heads / N; KV heads n_kv / N when
// N <= n_kv, else one KV head per GPU with every KV head replicated on
// N / n_kv GPUs (GLM-4-9B has 2: at N = 4 each is held twice, at N = 8 four
// times); attn_qkv and ffn_gate_up split by rows (column parallel),
// attn_output and ffn_down by columns (row parallel), token_embd and output
// by vocabulary rows; norms replicated. Everything the planner reports is
// then per GPU.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "plan/schemes.h"
#include "schema/glmq.pb.h"
#include "schema/tensors.h"

namespace glmq::plan {

struct TpLayout {
  int tp = 1;
  int64_t q_heads = 0;      // per GPU
  int64_t kv_heads = 0;     // per GPU
  int64_t kv_replicas = 1;  // GPUs holding each KV head (N / n_kv when N > n_kv)
  int64_t ffn = 0;          // ffn_hidden_size per GPU
  int64_t vocab_rows = 0;   // rows of token_embd / output per GPU (vocab padded to 64, / N)
};

// Error (naming the numbers) where vLLM cannot shard: n_heads % N, n_kv % N
// (N <= n_kv) or N % n_kv (N > n_kv), ffn % N.
absl::StatusOr<TpLayout> MakeTpLayout(const pb::HParams& hp, int tp);

// The hyperparameters one GPU computes with (heads, KV heads, ffn per GPU):
// its KV cache per token and working buffers follow from them.
pb::HParams PerGpuHParams(const pb::HParams& hp, const TpLayout& tp);

// One GPU's shard of each tensor (vision tensors replicated).
std::vector<ModelTensor> ShardTensors(const std::vector<ModelTensor>& tensors, const pb::HParams& hp,
                                     const TpLayout& tp);

// Row-parallel shards whose width is not a multiple of a group size: vLLM's
// AWQ/GPTQ kernels refuse such a TP size ("ffn_down: 6848 columns per GPU,
// not a multiple of 128"). `group_size` 0: none.
std::vector<std::string> GroupAlignmentProblems(const pb::HParams& hp, const TpLayout& tp,
                                                int group_size);

// Per-GPU bytes of a .glmq file's own tensors (their encodings and group
// sizes on the sharded shapes; last groups padded as specs/encodings.md).
WeightBytes ShardedFileWeightBytes(const std::vector<pb::TensorEntry>& tensors,
                                   const pb::HParams& hp, const TpLayout& tp);

}  // namespace glmq::plan
