#include "plan/cuda_memory.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "plan/memory.h"
#include "plan/schemes.h"
#include "runtime/buffers.h"
#include "runtime/cuda/device_memory.h"
#include "runtime/cuda/repack.h"
#include "schema/tensors.h"

namespace glmq::plan {
namespace {

using cuda::AllocationTally;
using cuda::GemmOperand;

GemmOperand Operand(pb::Encoding e) {
  switch (e) {
    case pb::ENCODING_F32:
      return GemmOperand::kF32;
    case pb::ENCODING_F16:
      return GemmOperand::kF16;
    case pb::ENCODING_BF16:
      return GemmOperand::kBF16;
    default:
      return GemmOperand::kQuant;
  }
}

CudaTerm Term(const std::string& name, const std::string& allocation, const AllocationTally& t) {
  return {name, allocation, t.requested(), t.device_bytes()};
}

// The largest request each growing scratch slot sees (device_memory.h).
struct ScratchMax {
  uint64_t gemm = 0;          // slot 0
  uint64_t kept_split = 0;    // slot 5
  uint64_t kept_product = 0;  // slot 6
};

// Weights (one allocation per matrix, repacked) and the f32 mirrors of the
// norm and bias vectors; `scratch` gets the largest prefill GEMM scratch and,
// for linears with kept columns, their split input and kept product.
absl::Status AddWeights(const std::vector<pb::TensorEntry>& tensors, const CudaRun& run,
                        std::vector<CudaTerm>* terms, ScratchMax* scratch) {
  AllocationTally weights, vectors;
  absl::flat_hash_map<std::string, const pb::TensorEntry*> by_name;
  for (const pb::TensorEntry& e : tensors) by_name[e.name()] = &e;
  const int64_t n = run.PrefillTokens();
  for (const pb::TensorEntry& e : tensors) {
    if (e.role() == pb::ROLE_VISION) continue;
    if (e.shape_size() == 1) {
      vectors.Add(cuda::VectorMirrorBytes(e.shape(0)));
      continue;
    }
    if (e.shape_size() != 2) continue;
    GLMQ_ASSIGN_OR_RETURN(const uint64_t b, cuda::GpuWeightBytes(e.encoding(), e.group_size(),
                                                                 e.shape(0), e.shape(1)));
    weights.Add(b);
    if (e.role() == pb::ROLE_TOKEN_EMBD) continue;  // a gather, never a GEMM
    const int64_t rows = e.role() == pb::ROLE_OUTPUT && !run.all_logits ? 1 : n;
    scratch->gemm = std::max(
        scratch->gemm, cuda::GemmScratchBytes(Operand(e.encoding()), e.shape(0), e.shape(1), rows));
    const auto kept = by_name.find(CompanionName(e.name(), pb::ROLE_KEPT_COLS));
    if (kept == by_name.end() || kept->second->shape_size() != 2) continue;
    const int64_t t = std::max<int64_t>(rows, 1), n_kept = kept->second->shape(1);
    scratch->kept_split =
        std::max(scratch->kept_split, cuda::KeptSplitBytes(t, e.shape(1), n_kept));
    scratch->kept_product = std::max(scratch->kept_product, cuda::KeptProductBytes(t, e.shape(0)));
  }
  terms->push_back(Term("weights", "one cudaMalloc per matrix, repacked (repack.h)", weights));
  terms->push_back(Term("norm_bias_f32", "f32 mirrors of norm and bias vectors", vectors));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<pb::TensorEntry>> SchemeTensorEntries(const pb::HParams& hp,
                                                                 absl::string_view scheme) {
  GLMQ_ASSIGN_OR_RETURN(const std::vector<ModelTensor> tensors, ModelTensors(hp));
  std::vector<pb::TensorEntry> out;
  for (const ModelTensor& t : tensors) {
    GLMQ_ASSIGN_OR_RETURN(const pb::QuantRule r, ChooseEncoding(scheme, t, hp.n_layers()));
    pb::TensorEntry e;
    e.set_name(t.name);
    e.set_role(t.role);
    e.set_layer(t.layer);
    e.set_encoding(r.encoding());
    e.set_group_size(r.group_size());
    for (int64_t d : t.shape) e.add_shape(d);
    out.push_back(std::move(e));
  }
  return out;
}

int64_t CudaRun::PrefillTokens() const {
  return std::max<int64_t>(0, std::min(prefill_chunk, context - 1));
}

uint64_t CudaPrediction::total() const {
  uint64_t sum = 0;
  for (const CudaTerm& t : terms) sum += t.device;
  return sum;
}

absl::StatusOr<CudaPrediction> PredictCudaRun(const pb::HParams& hp,
                                              const std::vector<pb::TensorEntry>& tensors,
                                              const CudaRun& run) {
  if (run.context < 1 || run.prefill_chunk < 1)
    return absl::InvalidArgumentError(absl::StrCat("context ", run.context, " and chunk ",
                                                   run.prefill_chunk, " must be positive"));
  CudaPrediction p;
  ScratchMax max;
  GLMQ_RETURN_IF_ERROR(AddWeights(tensors, run, &p.terms, &max));
  GLMQ_ASSIGN_OR_RETURN(const KvLayout kv, MakeKvLayout(hp, run.kv));
  AllocationTally blocks;
  blocks.Add(kv.BlockBytes(), kv.BlocksFor(run.context));
  p.terms.push_back(Term("kv_cache",
                         absl::StrCat(kv.BlocksFor(run.context), " blocks of ", kv.BlockBytes(),
                                      " bytes, one cudaMalloc each"),
                         blocks));
  BufferConfig cfg;
  cfg.max_context = run.context;
  cfg.prefill_chunk = run.prefill_chunk;
  cfg.kv_type = run.kv;
  cfg.n_threads = 1;  // CudaBackend::n_threads()
  cfg.all_logits = run.all_logits;
  GLMQ_ASSIGN_OR_RETURN(const BufferSizes sizes, ComputeBufferSizes(hp, cfg));
  AllocationTally buffers;
  for (const glmq::NamedBuffer& b : sizes.buffers)
    if (b.name != "kv_cache") buffers.Add(b.bytes);
  p.terms.push_back(Term("working_buffers", "session buffers (runtime/buffers.h)", buffers));
  const int64_t n = run.PrefillTokens();
  const uint64_t partials =
      std::max(cuda::AttentionPartialBytes(std::max<int64_t>(n, 1), hp.n_heads(), hp.n_kv_heads(),
                                           hp.head_dim(), run.context - 1 > 0 ? run.context - 1 : 1,
                                           run.sms),
               cuda::AttentionPartialBytes(1, hp.n_heads(), hp.n_kv_heads(), hp.head_dim(),
                                           run.context, run.sms));
  AllocationTally scratch;
  for (uint64_t b : {max.gemm, max.kept_split, max.kept_product})
    if (b > 0) scratch.Add(b);
  scratch.Add(partials);
  scratch.Add(cuda::TokenIdBytes(std::max<int64_t>(n, 1)));
  scratch.Add(cuda::BlockTableBytes(kv.BlocksFor(run.context)));
  p.terms.push_back(Term("backend_scratch",
                         "GEMM activations + decoded slice, kept-column split and product, "
                         "attention partials, token ids, KV block table (device_memory.h)",
                         scratch));
  p.terms.push_back({"cuda_context",
                     "CUDA context + cuBLAS handle and workspace (measured "
                     "allowance, specs/vram.md section 4)",
                     kCudaContextBytes, kCudaContextBytes});
  return p;
}

}  // namespace glmq::plan
