// RenderCudaTable (plan/cuda_memory.h).
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/status.h"
#include "plan/cuda_memory.h"
#include "plan/memory.h"
#include "plan/report.h"

namespace glmq::plan {

absl::StatusOr<std::string> RenderCudaTable(const Plan& plan,
                                            const std::vector<pb::TensorEntry>& file_tensors) {
  if (plan.tp.tp > 1 || plan.options.batch > 1 || plan.options.images > 0)
    return absl::InvalidArgumentError(
        "--cuda predicts the CUDA runtime of one GPU, one sequence, text only "
        "(no --tp, --batch or --images)");
  std::string out = absl::StrCat(
      "CUDA runtime prediction (specs/vram.md section 8; GiB; ", kDefaultSms,
      " SMs; prefill chunk ", plan.options.prefill_chunk,
      "): each cell 'cuda (table)' = what `glmq plan --measure` expects vs the device-independent "
      "total above\n");
  absl::StrAppend(&out, absl::StrFormat("%8s", "context"));
  for (const SchemeWeights& w : plan.weights)
    for (const KvTypeInfo& k : AllKvTypes())
      absl::StrAppend(&out, absl::StrFormat(" %22s", absl::StrCat(w.name, "+kv", k.name)));
  absl::StrAppend(&out, "\n");
  std::vector<std::vector<pb::TensorEntry>> tensors;
  for (const SchemeWeights& w : plan.weights) {
    if (absl::StartsWith(w.name, "file")) {
      tensors.push_back(file_tensors);
    } else {
      GLMQ_ASSIGN_OR_RETURN(std::vector<pb::TensorEntry> t, SchemeTensorEntries(plan.hp, w.name));
      tensors.push_back(std::move(t));
    }
  }
  for (int64_t c : plan.contexts) {
    absl::StrAppend(&out, absl::StrFormat("%8s", ContextLabel(c)));
    for (size_t w = 0; w < plan.weights.size(); ++w)
      for (size_t k = 0; k < AllKvTypes().size(); ++k) {
        CudaRun run;
        run.context = c;
        run.prefill_chunk = plan.options.prefill_chunk;
        run.all_logits = plan.options.all_logits;
        run.kv = AllKvTypes()[k].type;
        GLMQ_ASSIGN_OR_RETURN(const CudaPrediction p, PredictCudaRun(plan.hp, tensors[w], run));
        absl::StrAppend(
            &out, absl::StrFormat(" %22s", absl::StrCat(GiB(p.total()), " (",
                                                        GiB(TotalBytes(plan, w, k, c)), ")")));
      }
    absl::StrAppend(&out, "\n");
  }
  return out;
}

}  // namespace glmq::plan
