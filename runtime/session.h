// One inference context of a Model: the KV cache (runtime/kv_cache.h,
// allocated in blocks as the sequence grows), the working buffers (sized by
// ComputeBufferSizes, runtime/buffers.h; none grows with the context) and the
// GLM-4 forward pass: prefill in chunks and KV-cached decode, f32 activations.
// Not thread-safe; several Sessions may share one Model but not run at once
// (they share its backend).
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "runtime/backend_buffer.h"
#include "runtime/buffers.h"
#include "runtime/kv_cache.h"
#include "runtime/observer.h"
#include "runtime/model.h"
#include "runtime/sequence.h"

namespace glmq {

struct SessionOptions {
  // Most positions the session may hold. The KV cache grows in blocks up to
  // this, so a large value costs nothing until it is used; Create refuses
  // one above hparams.max_context (unless context_override) or one whose KV
  // cache and working buffers would not fit in memory_limit.
  int64_t max_context = 4096;
  // Allows max_context above the model's configured maximum (RoPE simply
  // continues past it; quality there is the caller's problem).
  bool context_override = false;
  int64_t prefill_chunk = 256;    // tokens per forward chunk
  KvType kv_type = KvType::kF32;  // runtime/kv_layout.h
  bool all_logits = true;  // size the logits buffer for every chunk row (perplexity)
  // Bytes the session may need at max_context (KV cache + working buffers);
  // 0: the backend's AvailableMemoryBytes() at creation.
  uint64_t memory_limit = 0;
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

// Receives logits rows [row0, row0 + rows) of a ForwardLogits call, as
// [rows, padded_vocab] f32; valid during the call only.
using LogitsFn = std::function<absl::Status(int64_t row0, absl::Span<const float> logits)>;

class Session {
 public:
  // Errors: OutOfRange for max_context above the model's maximum without
  // context_override; ResourceExhausted (with the bytes per KV type) when
  // the KV cache at max_context and the working buffers exceed the memory
  // limit. Nothing is allocated for the KV cache yet.
  static absl::StatusOr<std::unique_ptr<Session>> Create(const Model* model,
                                                         const SessionOptions& options);

  // Runs `tokens` at positions [position(), position() + n) and appends
  // them to the KV cache, in chunks of prefill_chunk. `out` (if not null) is
  // resized to what `what` asks for. Error if the context would overflow or
  // a token id is out of range; the session is then unchanged.
  absl::Status Forward(absl::Span<const int32_t> tokens, ForwardOutput what,
                       std::vector<float>* out);
  // As Forward, passing the logits of tokens [first_row, n) to `fn` chunk by
  // chunk (rows before first_row cost no output projection): memory stays at
  // one chunk's logits whatever n is. Without all_logits the output
  // projection runs a row at a time (same results, slower).
  absl::Status ForwardLogits(absl::Span<const int32_t> tokens, int64_t first_row,
                             const LogitsFn& fn);
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
  // Benchmarks and memory tests: appends n positions of random K and V
  // (uniform in [-1, 1), from `seed`) to every layer's cache without running
  // the model, so decode can be timed at a long context without a prefill.
  absl::Status AppendSyntheticKv(int64_t n, uint64_t seed);
  // Forgets the KV cache (position 0); its blocks stay allocated for reuse.
  void Reset() {
    pos_ = 0;
    rope_offset_ = 0;
  }
  // Forgets the KV cache and returns its blocks to the backend.
  void ReleaseKv() {
    Reset();
    kv_->Release();
  }
  // Forgets the KV cache from `position` on (0 <= position <= position()),
  // keeping the tokens before it: a chat that re-renders its history
  // continues after the part that is unchanged.
  void Truncate(int64_t position) { pos_ = std::clamp<int64_t>(position, 0, pos_); }
  int64_t position() const { return pos_; }
  int64_t max_context() const { return config_.max_context; }
  int64_t prefill_chunk() const { return config_.prefill_chunk; }
  const BufferSizes& buffer_sizes() const { return sizes_; }
  const KvCache& kv_cache() const { return *kv_; }
  const Model& model() const { return *model_; }

 private:
  Session() = default;
  using ChunkFn = std::function<absl::Status(int64_t row0, int64_t n)>;
  absl::Status CheckTokens(absl::Span<const int32_t> tokens) const;
  // One chunk of n <= prefill_chunk rows embedded in residual_; leaves the
  // final-normed hidden states in normed_.
  absl::Status ForwardChunk(int64_t n);
  // Rows [0, n) chunk by chunk (embedding, image rows from `seq` when given,
  // positions), calling `after` with each chunk's rows in normed_.
  absl::Status RunChunks(const int32_t* ids, int64_t n, const SplicedSequence* seq,
                         const ChunkFn& after);
  // Logits of chunk rows [first, m) (chunk starting at row c0) to `fn`, in
  // pieces of the logits buffer's rows.
  absl::Status ProjectRows(int64_t c0, int64_t first, int64_t m, const LogitsFn& fn);
  // Forward's chunk loop over rows [0, n); `seq` (may be null) gives the
  // image rows and the positions.
  absl::Status ForwardRows(const int32_t* ids, int64_t n, const SplicedSequence* seq,
                           ForwardOutput what, std::vector<float>* out);
  // The RoPE positions [3, n] of a chunk starting at row0 (use_positions_).
  void ChunkPositions(const SplicedSequence* seq, int64_t row0, int64_t n);
  absl::Status Layer(int i, int64_t n);
  // `count` floats of a working buffer as host data: the buffer itself on a
  // host-memory backend, else a copy in host_rows_.
  absl::StatusOr<const float*> HostRows(const float* src, int64_t count);

  const Model* model_ = nullptr;
  ActivationObserver* observer_ = nullptr;
  BufferConfig config_;
  BufferSizes sizes_;
  int64_t pos_ = 0;
  int64_t rope_offset_ = 0;               // RoPE position of KV slot s: s + rope_offset_
  bool use_positions_ = false;            // this chunk rotates by chunk_positions_
  std::vector<int64_t> chunk_positions_;  // [3, chunk]
  std::unique_ptr<KvCache> kv_;           // blocks of sizes_.kv_layout
  // Working buffers in the backend's memory (device memory for CUDA).
  BackendFloats residual_, normed_;  // [chunk, hidden]
  BackendFloats qkv_;                // [chunk, (n_heads + 2 n_kv) head_dim]
  BackendFloats attn_out_;           // [chunk, n_heads head_dim]
  BackendFloats proj_;               // [chunk, hidden]
  BackendFloats gate_up_;            // [chunk, 2 ffn]
  BackendFloats ffn_act_;            // [chunk, ffn]
  BackendFloats attn_scratch_;       // AttentionScratchFloats (attention_tiling.h)
  BackendFloats logits_;             // [chunk or 1, padded_vocab]
  std::vector<float> host_rows_;     // a device backend's rows copied out
};

// Checks `context` against the model's maximum (hparams.max_context; none
// when 0): OutOfRange naming both unless `override`.
absl::Status CheckContextLimit(const pb::HParams& hparams, int64_t context, bool override);

}  // namespace glmq
