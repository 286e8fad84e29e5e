// One inference context of a Model: the KV cache and the working buffers
// (sized by ComputeBufferSizes, runtime/buffers.h) and the GLM-4 forward
// pass: batched prefill in chunks and KV-cached decode, f32 throughout.
// Not thread-safe; several Sessions may share one Model but not run at once
// (they share its backend).
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "runtime/backend_buffer.h"
#include "runtime/buffers.h"
#include "runtime/observer.h"
#include "runtime/model.h"
#include "runtime/sequence.h"

namespace glmq {

struct SessionOptions {
  int64_t max_context = 4096;   // capped at hparams.max_context when that is set
  int64_t prefill_chunk = 256;  // tokens per forward chunk
  DType kv_type = DType::kF32;  // f32, f16 or bf16
  bool all_logits = true;       // allow ForwardOutput::kAllLogits (buffer for every chunk row)
  // Optional (calibration, runtime/calib): shown every linear layer's input.
  // Not owned; must outlive the session.
  ActivationObserver* observer = nullptr;
};

// The context a --ctx style flag gives: `requested` (> 0) must not exceed
// the model's hparams.max_context (when set); 0 means min(fallback,
// max_context). The error names `flag` and the model's limit.
absl::StatusOr<int64_t> ContextForFlag(const pb::HParams& hp, int64_t requested,
                                       int64_t fallback, absl::string_view flag);

enum class ForwardOutput {
  kNone,        // only fill the KV cache
  kLastLogits,  // [1, padded_vocab] logits of the last token
  kAllLogits,   // [n, padded_vocab] logits of every token
  kAllHidden,   // [n, hidden] hidden states after the final norm
};

class Session {
 public:
  static absl::StatusOr<std::unique_ptr<Session>> Create(const Model* model,
                                                         const SessionOptions& options);

  // Runs `tokens` at positions [position(), position() + n) and appends
  // them to the KV cache, in chunks of prefill_chunk. `out` (if not null) is
  // resized to what `what` asks for. Error if the context would overflow or
  // a token id is out of range; the session is then unchanged.
  absl::Status Forward(absl::Span<const int32_t> tokens, ForwardOutput what,
                       std::vector<float>* out);
  // A multimodal prefill (runtime/vision/splice.h): every row is its token's
  // embedding except the image rows (seq.embeds), at seq.positions (M-RoPE
  // streams; one stream for glm-4v); later Forward calls continue with KV
  // slot s at position s + seq.rope_offset until Reset. Needs position() ==
  // 0. Errors as Forward's, and rows or positions that do not fit.
  absl::Status ForwardSpliced(const SplicedSequence& seq, ForwardOutput what,
                              std::vector<float>* out);
  // Calibration in passes over layer ranges (tools/calibrate.cc): runs
  // layers [first, end) on one chunk of n <= prefill_chunk tokens at
  // position 0 (call Reset() first). hidden: [n, hidden_size], the residual
  // stream entering layer `first` (unused when first == 0: `tokens` are
  // embedded), replaced by the one leaving layer end - 1. When end ==
  // n_layers the output norm runs too and its result is shown to the
  // observer (as Forward does). Each window fits one chunk, so layer i's
  // attention needs only layer i's KV cache of this call: resuming later
  // layers from `hidden` gives exactly what one Forward would. position()
  // stays 0. Errors as Forward's.
  absl::Status ForwardLayers(absl::Span<const int32_t> tokens, int first, int end,
                             std::vector<float>* hidden);
  // Forgets the KV cache (position 0).
  void Reset() {
    pos_ = 0;
    rope_offset_ = 0;
  }
  // Forgets the KV cache from `position` on (0 <= position <= position()),
  // keeping the tokens before it: a chat that re-renders its history
  // continues after the part that is unchanged.
  void Truncate(int64_t position) { pos_ = std::clamp<int64_t>(position, 0, pos_); }
  int64_t position() const { return pos_; }
  int64_t max_context() const { return config_.max_context; }
  const BufferSizes& buffer_sizes() const { return sizes_; }
  const Model& model() const { return *model_; }

 private:
  Session() = default;
  // One chunk of n <= prefill_chunk rows embedded in residual_; leaves the
  // final-normed hidden states in normed_.
  absl::Status ForwardChunk(int64_t n);
  // Forward's chunk loop over rows [0, n); `seq` (may be null) gives the
  // image rows and the positions.
  absl::Status ForwardRows(const int32_t* ids, int64_t n, const SplicedSequence* seq,
                           ForwardOutput what, std::vector<float>* out);
  // The RoPE positions [3, n] of a chunk starting at row0 (use_positions_).
  void ChunkPositions(const SplicedSequence* seq, int64_t row0, int64_t n);
  absl::Status Layer(int i, int64_t n);
  KvCacheView Cache(int layer);

  const Model* model_ = nullptr;
  ActivationObserver* observer_ = nullptr;
  BufferConfig config_;
  BufferSizes sizes_;
  int64_t pos_ = 0;
  int64_t rope_offset_ = 0;                 // RoPE position of KV slot s: s + rope_offset_
  bool use_positions_ = false;              // this chunk rotates by chunk_positions_
  std::vector<int64_t> chunk_positions_;    // [3, chunk]
  // In the backend's memory (device memory for CUDA).
  BackendFloats kv_;                   // [n_layers, 2, n_kv_heads, max_context, head_dim]
  BackendFloats residual_, normed_;    // [chunk, hidden]
  BackendFloats qkv_;                  // [chunk, (n_heads + 2 n_kv) head_dim]
  BackendFloats attn_out_;             // [chunk, n_heads head_dim]
  BackendFloats proj_;                 // [chunk, hidden]
  BackendFloats gate_up_;              // [chunk, 2 ffn]
  BackendFloats ffn_act_;              // [chunk, ffn]
  BackendFloats scores_;               // [n_threads, max_context]
  BackendFloats logits_;               // [chunk or 1, padded_vocab]
};

}  // namespace glmq
