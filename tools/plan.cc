// glmq plan MODEL: weight sizes per scheme and a VRAM table per context
// length (specs/vram.md). MODEL is a Hugging Face folder, a config.json or a
// .glmq file.
#include <cstdio>
#include <string>

#include "core/file.h"
#include "core/status.h"
#include "plan/memory.h"
#include "plan/report.h"
#include "plan/source.h"
#include "plan/svg.h"
#include "tools/command.h"

namespace glmq::tools {
namespace {

struct PlanArgs {
  std::string model;
  bool json = false;
  bool csv = false;
  std::string gpu;
  std::string plot;
  int64_t batch = 1;
  int64_t prefill_chunk = plan::PlanOptions().prefill_chunk;
  int64_t images = 0;
  std::string image_size;
  std::vector<int64_t> contexts;
  int tp = 1;
};

absl::Status RunPlan(const PlanArgs& a) {
  GLMQ_ASSIGN_OR_RETURN(plan::PlanSource src, plan::LoadPlanSource(a.model));
  plan::PlanOptions options;
  options.batch = a.batch;
  options.prefill_chunk = a.prefill_chunk;
  options.images = a.images;
  if (!a.image_size.empty()) {
    GLMQ_RETURN_IF_ERROR(plan::ParseImageSize(a.image_size, &options.image_width,
                                              &options.image_height));
  }
  options.contexts = a.contexts;
  options.tp = a.tp;
  if (a.tp > 1 && src.file_weights) {  // the file's own tensors, sharded
    GLMQ_ASSIGN_OR_RETURN(plan::TpLayout tp, plan::MakeTpLayout(src.hparams, a.tp));
    src.file_weights->bytes = plan::ShardedFileWeightBytes(src.file_tensors, src.hparams, tp);
  }
  GLMQ_ASSIGN_OR_RETURN(
      plan::Plan p, plan::MakePlan(src.hparams, options,
                                   src.file_weights ? &*src.file_weights : nullptr));
  if (!a.plot.empty()) {
    GLMQ_RETURN_IF_ERROR(WriteFileAtomically(a.plot, plan::RenderSvg(p, a.model)));
    std::fprintf(stderr, "wrote %s\n", a.plot.c_str());
  }
  std::string out;
  if (!a.gpu.empty()) {
    GLMQ_ASSIGN_OR_RETURN(uint64_t gpu_bytes, plan::ParseByteSize(a.gpu));
    out = plan::RenderGpuFit(p, gpu_bytes, a.gpu);
  } else if (a.json) {
    out = plan::RenderJson(p, a.model);
  } else if (a.csv) {
    out = plan::RenderCsv(p);
  } else {
    out = plan::RenderText(p, a.model);
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return absl::OkStatus();
}

RunFn Setup(CLI::App* sub) {
  auto a = std::make_shared<PlanArgs>();
  sub->add_option("model", a->model, "HF folder, config.json or .glmq file")->required();
  auto* json = sub->add_flag("--json", a->json, "JSON output (exact bytes)");
  auto* csv = sub->add_flag("--csv", a->csv, "CSV output (exact bytes)");
  json->excludes(csv);
  sub->add_option("--gpu", a->gpu,
                  "card size (24G, 80GiB, 141GiB, 24GB = decimal): print the largest context "
                  "that fits each scheme x KV type");
  sub->add_option("--plot", a->plot, "write an SVG chart of VRAM vs context");
  sub->add_option("--batch", a->batch, "sequences at once (multiplies KV and buffers)");
  sub->add_option("--prefill-chunk", a->prefill_chunk, "tokens per prefill step");
  sub->add_option("--images", a->images, "images in the context (vision models)");
  sub->add_option("--image-size", a->image_size,
                  "WxH of the input images (GLM-4.1V keeps their size; default image_size "
                  "square)");
  sub->add_option("--context", a->contexts,
                  "rows at these contexts (tokens, comma-separated) instead of 1K, 2K, ...")
      ->delimiter(',');
  sub->add_option("--tp", a->tp,
                  "tensor-parallel GPUs (vLLM-style split): every figure becomes per GPU");
  return [a] { return RunPlan(*a); };
}

}  // namespace

GLMQ_COMMAND(plan, "plan", "weight sizes and VRAM per context length, scheme and KV type",
             Setup);

}  // namespace glmq::tools
