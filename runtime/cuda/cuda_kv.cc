// CudaBackend: KV cache writes and attention over device-resident KV.
#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "runtime/cuda/attention_plan.h"
#include "runtime/cuda/cuda_backend_impl.h"

namespace glmq::cuda {

static_assert(static_cast<int>(KvType::kF32) == static_cast<int>(KvElem::kF32) &&
                  static_cast<int>(KvType::kF16) == static_cast<int>(KvElem::kF16) &&
                  static_cast<int>(KvType::kBF16) == static_cast<int>(KvElem::kBF16) &&
                  static_cast<int>(KvType::kInt8) == static_cast<int>(KvElem::kInt8),
              "KvElem follows KvType");

absl::StatusOr<void*> CudaBackend::AllocateKvBlock(uint64_t bytes) {
  Use();
  GLMQ_ASSIGN_OR_RETURN(void* p, DeviceAlloc(bytes, absl::StrCat(name_, " KV block")));
  GLMQ_RETURN_IF_ERROR(CudaStatus(cudaMemset(p, 0, bytes), "cudaMemset of a KV block"));
  return p;
}

void CudaBackend::FreeKvBlock(void* block, uint64_t bytes) {
  Use();
  cudaStreamSynchronize(stream_);
  cudaFree(block);
  kv_table_shadow_.clear();  // a new block may reuse the address
}

uint64_t CudaBackend::AvailableMemoryBytes() const {
  Use();
  size_t free_b = 0, total_b = 0;
  if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) return 0;
  return free_b;
}

absl::StatusOr<DevKv> CudaBackend::DeviceKv(const KvCacheView& cache, const AttentionShape& s) {
  const KvLayout& l = *cache.layout;
  // KvElem follows KvType's order (kv_device.h).
  DevKv kv = ForBlockLayout(static_cast<KvElem>(static_cast<int>(l.type)), l.n_layers,
                            l.n_kv_heads, l.head_dim, l.block_tokens, cache.layer);
  if (l.head_dim != s.head_dim || l.n_kv_heads != s.n_kv_heads) {
    return absl::InvalidArgumentError(absl::StrCat("KV layout of ", l.n_kv_heads, " x ",
                                                   l.head_dim, " for attention of ",
                                                   s.n_kv_heads, " x ", s.head_dim));
  }
  // One device table of block pointers, shared by the layers; uploaded when
  // the cache grew (every block_tokens positions) or changed.
  const std::vector<const void*> table(cache.blocks, cache.blocks + cache.n_blocks);
  const uint64_t need = std::max<size_t>(table.size(), 1) * sizeof(void*);
  if (scratch_[3].bytes < need) kv_table_shadow_.clear();  // a new table is empty
  GLMQ_ASSIGN_OR_RETURN(void* dev, Scratch(3, need));
  if (kv_table_shadow_ != table) {
    GLMQ_RETURN_IF_ERROR(CudaStatus(cudaMemcpyAsync(dev, table.data(), table.size() * sizeof(void*),
                                                    cudaMemcpyHostToDevice, stream_),
                                    "KV block table upload"));
    GLMQ_RETURN_IF_ERROR(CudaStatus(cudaStreamSynchronize(stream_), "KV block table upload"));
    kv_table_shadow_ = table;
  }
  kv.k_blocks = kv.v_blocks = static_cast<void* const*>(dev);
  kv.n_blocks = cache.n_blocks;
  return kv;
}

void CudaBackend::WriteKv(const float* k, const float* v, int64_t row_stride, int64_t n_tokens,
                          const AttentionShape& s, int64_t pos0, const KvCacheView& cache) {
  Use();
  if (!sticky_.ok()) return;
  absl::StatusOr<DevKv> kv = DeviceKv(cache, s);
  if (!kv.ok()) return Check(kv.status());
  Check(LaunchWriteKv(k, v, row_stride, n_tokens, s.n_kv_heads, pos0, *kv, stream_), [&] {
    return absl::StrCat("WriteKv [", n_tokens, " tokens at ", pos0, ", ", s.n_kv_heads,
                        " kv heads x ", s.head_dim, "]");
  });
}

void CudaBackend::Attention(const float* q, int64_t q_stride, int64_t n_tokens,
                            const AttentionShape& s, int64_t pos0, const KvCacheView& cache,
                            float* scratch, float* out) {
  Use();
  if (!sticky_.ok()) return;
  auto what = [&] {
    return absl::StrCat("Attention [", n_tokens, " queries at ", pos0, ", ", s.n_heads,
                        " heads / ", s.n_kv_heads, " kv heads x ", s.head_dim, "]");
  };
  if (s.head_dim > kMaxHeadDim || s.n_kv_heads <= 0 || s.n_heads % s.n_kv_heads != 0) {
    return Check(absl::InvalidArgumentError(
        absl::StrCat(what(), ": head_dim above ", kMaxHeadDim, " or heads not a multiple")));
  }
  absl::StatusOr<DevKv> kv = DeviceKv(cache, s);
  if (!kv.ok()) return Check(kv.status());
  const AttnPlan plan =
      PlanAttention(n_tokens, s.n_heads, s.n_kv_heads, s.head_dim, pos0 + n_tokens, sms_);
  absl::StatusOr<void*> partial = Scratch(1, plan.partial_floats * sizeof(float));
  if (!partial.ok()) return Check(partial.status());
  AttnArgs a;
  a.q = q;
  a.q_stride = q_stride;
  a.n_tokens = n_tokens;
  a.n_heads = s.n_heads;
  a.n_kv_heads = s.n_kv_heads;
  a.head_dim = s.head_dim;
  a.pos0 = pos0;
  a.kv = *kv;
  a.partial = static_cast<float*>(*partial);
  a.out = out;
  Check(LaunchAttention(a, plan, stream_), what);
}

}  // namespace glmq::cuda
