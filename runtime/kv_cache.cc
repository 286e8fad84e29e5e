#include "runtime/kv_cache.h"

#include "core/status.h"

namespace glmq {

absl::Status KvCache::Reserve(int64_t positions) {
  const int64_t want = layout_.BlocksFor(positions);
  blocks_.reserve(want);
  while (n_blocks() < want) {
    GLMQ_ASSIGN_OR_RETURN(void* block, backend_->AllocateKvBlock(layout_.BlockBytes()));
    blocks_.push_back(block);
  }
  return absl::OkStatus();
}

void KvCache::Release() {
  for (void* b : blocks_) backend_->FreeKvBlock(b, layout_.BlockBytes());
  blocks_.clear();
  blocks_.shrink_to_fit();
}

}  // namespace glmq
