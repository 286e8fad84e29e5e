// Sizes of every buffer the CPU runtime allocates for one inference context:
// the KV cache (at most; it is allocated in blocks as the sequence grows,
// runtime/kv_cache.h) and the f32 working buffers of the forward pass, none
// of which depends on the context length. The runtime's allocator
// (runtime/session.cc) sizes its buffers with ComputeBufferSizes and nothing
// else, so the planner can report "the runtime's working buffers" exactly by
// calling the same function.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/kv_layout.h"
#include "schema/glmq.pb.h"

namespace glmq {

struct BufferConfig {
  int64_t max_context = 4096;    // most KV cache positions per sequence
  int64_t prefill_chunk = 256;   // tokens per forward call (prefill is cut into chunks)
  int64_t batch = 1;             // sequences evaluated together
  KvType kv_type = KvType::kF32;  // KV cache type (runtime/kv_layout.h)
  int n_threads = 1;             // threads with their own attention tiles
  bool all_logits = true;        // logits for every chunk token (perplexity) or the last only
};

struct NamedBuffer {
  std::string name;   // "kv_cache", "residual", ...
  std::string shape;  // "[n_layers, 2, batch, n_kv_heads, max_context, head_dim]"
  uint64_t bytes = 0;
};

struct BufferSizes {
  std::vector<NamedBuffer> buffers;  // KV cache first, then the working buffers
  KvLayout kv_layout;
  uint64_t kv_cache_bytes = 0;       // kv_layout.BytesFor(max_context) * batch
  uint64_t working_bytes = 0;        // everything but the KV cache
  uint64_t total_bytes() const { return kv_cache_bytes + working_bytes; }
  // Bytes of the named buffer; 0 if there is none of that name.
  uint64_t Get(const std::string& name) const;
};

// Every buffer the runtime allocates for a context with `config`, from the
// canonical hyperparameters alone. Error (naming the field) for a zero or
// negative size or n_heads not a multiple of n_kv_heads.
absl::StatusOr<BufferSizes> ComputeBufferSizes(const pb::HParams& hparams,
                                               const BufferConfig& config);

}  // namespace glmq
