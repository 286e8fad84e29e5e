// The VRAM model (specs/vram.md): weights + KV cache + working buffers +
// CUDA context allowance, per weight scheme and KV cache type, for a range
// of context lengths. Pure arithmetic on HParams; nothing is allocated.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "schema/glmq.pb.h"
#include "plan/schemes.h"
#include "plan/images.h"
#include "runtime/kv_layout.h"
#include "plan/tp.h"

namespace glmq::plan {

// Allowance for the CUDA context and library handles (specs/vram.md "CUDA
// context"), measured with bench/cuda_context.sh on an H200 (driver
// 580.159.04, CUDA 13.0, lazy module loading): context 527 MiB, cuBLAS
// handle +70 MiB, its 32 MiB workspace; 629 MiB, rounded up to 640 MiB.
inline constexpr uint64_t kCudaContextBytes = uint64_t{640} << 20;

// Key tile of the (flash-style) attention: scores for one chunk of queries
// against kAttnKeyTile keys at a time, with an online softmax, so the
// scratch does not grow with the context.
inline constexpr int64_t kAttnKeyTile = 256;

// The KV types the plan tabulates (bf16, int8), with their --kv names.
struct KvTypeInfo {
  KvType type;             // runtime/kv_layout.h
  absl::string_view name;  // "bf16", "int8"
};
const std::vector<KvTypeInfo>& AllKvTypes();

// Bytes of K and V for one token over all layers (runtime/kv_layout.h
// KvLayout::BytesPerToken; 0 for hyperparameters it refuses):
//   bf16: 2 (K,V) * n_layers * n_kv_heads * head_dim * 2
//   int8: 2 (K,V) * n_layers * n_kv_heads * (head_dim + 2)  (int8 values +
//         one f16 scale per (token, kv head), specs/vram.md)
uint64_t KvBytesPerToken(const pb::HParams& hp, KvType type);

struct PlanOptions {
  int64_t batch = 1;            // sequences decoded together
  int64_t prefill_chunk = 256;  // tokens per prefill step (runtime/buffers.h default)
  int64_t images = 0;           // images in the context (vision models)
  int64_t image_height = 0;     // input image size (GLM-4.1V; 0 = the model's image_size)
  int64_t image_width = 0;
  int n_threads = 1;            // runtime threads with their own attention scratch
  bool all_logits = true;       // logits for every chunk token (perplexity), else last only
  // Rows at these contexts (each 1..max_context) instead of 1K, 2K, ... max.
  std::vector<int64_t> contexts;
  int tp = 1;                   // tensor-parallel GPUs (plan/tp.h): figures are per GPU
};

absl::Status ValidateOptions(const pb::HParams& hp, const PlanOptions& options);

struct NamedBuffer {
  std::string name;
  std::string shape;  // "[batch*chunk, hidden] f32"
  uint64_t bytes;     // all sequences of the batch
};

// Working buffers for a context of `context` tokens, all sequences of the
// batch together: the runtime's own ComputeBufferSizes (runtime/buffers.h)
// when glmq_runtime is built, else the same formulas derived here (see
// BuffersSource()). Vision-encoder buffers (one image at a time) are added
// when options.images > 0; the runtime does not size those yet.
absl::StatusOr<std::vector<NamedBuffer>> WorkingBuffers(const pb::HParams& hp,
                                                        const PlanOptions& options,
                                                        int64_t context);
// Where the working-buffer sizes come from: "runtime/buffers.h (ComputeBufferSizes)".
absl::string_view BuffersSource();
uint64_t SumBytes(const std::vector<NamedBuffer>& buffers);

struct SchemeWeights {
  std::string name;  // a WeightScheme name, or "file" for a .glmq's own tensors
  WeightBytes bytes;
};

// Everything the report needs; rows are filled by MakePlan.
struct Plan {
  pb::HParams hp;
  TpLayout tp;          // tp.tp == 1: one GPU
  pb::HParams gpu_hp;   // what one GPU computes with (= hp without TP)
  PlanOptions options;
  std::vector<SchemeWeights> weights;
  uint64_t checkpoint_bf16_bytes = 0;  // model tensors + SourceOnlyHfTensors, bf16
  std::vector<uint64_t> kv_per_token;  // indexed like AllKvTypes()
  std::vector<KvLayout> kv_layouts;    // indexed like AllKvTypes(): the runtime's blocks
  std::vector<NamedBuffer> buffers;    // at the largest row's context
  uint64_t cuda_context_bytes = kCudaContextBytes;
  int64_t image_tokens = 0;            // options.images * image.tokens
  ImageCost image;                     // one image (plan/images.h), when options.images > 0
  std::vector<int64_t> contexts;       // row context lengths (tokens in the KV cache)
  // tp > 1: shards of a scheme that vLLM's AWQ/GPTQ kernels cannot run
  // ("int4-g128: ffn_down: 6848 input columns per GPU, ...").
  std::vector<std::string> tp_problems;
};

// Builds the plan for all schemes (plus `file_weights` when given).
absl::StatusOr<Plan> MakePlan(const pb::HParams& hp, const PlanOptions& options,
                              const SchemeWeights* file_weights = nullptr);

// 1K, 2K, 4K, ... up to max_context (max_context itself last when it is not
// a power of two); rows shorter than `min_context` are dropped.
std::vector<int64_t> ContextRows(int64_t max_context, int64_t min_context);

// The runtime's KV allocation for `context` positions, all sequences:
// whole blocks (kv_layouts[kv_index].BytesFor(context) * batch).
uint64_t KvBytes(const Plan& plan, size_t kv_index, int64_t context);
uint64_t BuffersBytes(const Plan& plan, int64_t context);              // all sequences
uint64_t TotalBytes(const Plan& plan, size_t weights_index, size_t kv_index, int64_t context);

// Largest context (<= max_context, >= image tokens) whose total fits in
// `gpu_bytes`; -1 if not even the smallest fits.
int64_t MaxContextThatFits(const Plan& plan, size_t weights_index, size_t kv_index,
                           uint64_t gpu_bytes);

// "24G", "24GiB", "80 GiB", "512M", "24GB" (decimal), plain bytes.
absl::StatusOr<uint64_t> ParseByteSize(absl::string_view text);

}  // namespace glmq::plan
