// The KV cache of one sequence: blocks of layout.block_tokens positions,
// allocated through the backend (host or device memory) as the sequence
// grows, so a 1M-position model running 4K tokens holds 4K positions' worth
// (rounded up to a block), never the model's maximum. allocated_bytes() is
// exactly KvLayout::BytesFor(capacity()), the planner's KV figure
// (plan/memory.h KvBytes). Not thread-safe.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "runtime/backend.h"
#include "runtime/kv_layout.h"

namespace glmq {

class KvCache {
 public:
  // `backend` is not owned and must outlive the cache.
  KvCache(Backend* backend, const KvLayout& layout) : backend_(backend), layout_(layout) {}
  ~KvCache() { Release(); }
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;

  // Makes positions [0, positions) writable: allocates the blocks that are
  // missing (zero-filled). ResourceExhausted from the backend leaves the
  // blocks already held in place.
  absl::Status Reserve(int64_t positions);
  // Returns every block to the backend (capacity 0).
  void Release();

  const KvLayout& layout() const { return layout_; }
  int64_t n_blocks() const { return static_cast<int64_t>(blocks_.size()); }
  int64_t capacity() const { return n_blocks() * layout_.block_tokens; }
  uint64_t allocated_bytes() const { return n_blocks() * layout_.BlockBytes(); }
  KvCacheView View(int64_t layer) const {
    return KvCacheView{&layout_, blocks_.data(), n_blocks(), layer};
  }

 private:
  Backend* backend_;
  KvLayout layout_;
  std::vector<void*> blocks_;  // backend memory, BlockBytes() each
};

}  // namespace glmq
