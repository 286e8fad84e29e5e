// CudaBackend: KV cache writes and attention over device-resident KV.
#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "runtime/cuda/attention_plan.h"
#include "runtime/cuda/cuda_backend_impl.h"

namespace glmq::cuda {

absl::StatusOr<DevKv> CudaBackend::DeviceKv(const KvCacheView& cache, const AttentionShape& s) {
  KvElem elem;
  switch (cache.type) {
    case DType::kF32: elem = KvElem::kF32; break;
    case DType::kF16: elem = KvElem::kF16; break;
    case DType::kBF16: elem = KvElem::kBF16; break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("KV cache type ", Traits(cache.type).name, " is not supported on CUDA"));
  }
  DevKv kv = ForFlatLayout(elem, s.head_dim, cache.max_context);
  const std::vector<const void*> table = {cache.k, cache.v};
  GLMQ_ASSIGN_OR_RETURN(void* dev, Scratch(3, table.size() * sizeof(void*)));
  if (kv_table_shadow_ != table) {
    GLMQ_RETURN_IF_ERROR(CudaStatus(cudaMemcpyAsync(dev, table.data(), table.size() * sizeof(void*),
                                                    cudaMemcpyHostToDevice, stream_),
                                    "KV block table upload"));
    GLMQ_RETURN_IF_ERROR(CudaStatus(cudaStreamSynchronize(stream_), "KV block table upload"));
    kv_table_shadow_ = table;
  }
  kv.k_blocks = static_cast<void* const*>(dev);
  kv.v_blocks = kv.k_blocks + 1;
  return kv;
}

void CudaBackend::WriteKv(const float* k, const float* v, int64_t row_stride, int64_t n_tokens,
                          const AttentionShape& s, int64_t pos0, KvCacheView cache) {
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
                            const AttentionShape& s, int64_t pos0, KvCacheView cache,
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
