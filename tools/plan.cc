// glmq plan MODEL: weight sizes per scheme and a VRAM table per context
// length (specs/vram.md). MODEL is a Hugging Face folder, a config.json or a
// .glmq file.
#include <cstdio>
#include <string>

#include "core/file.h"
#include "core/status.h"
#include "format/reader.h"
#include "format/record.h"
#include "plan/cuda_memory.h"
#include "plan/measure.h"
#include "plan/measure_cuda.h"
#include "plan/memory.h"
#include "plan/report.h"
#include "plan/source.h"
#include "plan/svg.h"
#include "runtime/device.h"
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
  // --measure (issue 15): on a CUDA device, predicted vs measured.
  bool measure = false, record = false, cuda = false;
  std::string device = "cuda:0", measure_contexts, kv = "bf16", svg;
};

// --measure: exit status non-zero when a row differs by more than 2 %.
absl::Status RunMeasure(const PlanArgs& a) {
  GLMQ_ASSIGN_OR_RETURN(const DeviceSpec d, ParseDevice(a.device));
  if (d.kind != DeviceSpec::kCuda)
    return absl::InvalidArgumentError("--measure needs --device cuda or cuda:N");
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<GlmqFile> f, GlmqFile::Open(a.model));
  std::vector<int64_t> contexts;
  if (!a.measure_contexts.empty()) {
    GLMQ_ASSIGN_OR_RETURN(contexts,
                          plan::ParseContexts(a.measure_contexts, f->hparams().max_context()));
  }
  f.reset();
  plan::CudaRun run;
  run.prefill_chunk = a.prefill_chunk;
  GLMQ_ASSIGN_OR_RETURN(run.kv, ParseKvType(a.kv));
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<plan::VramMeasurer> m,
                        plan::MakeCudaMeasurer(a.model, d.index));
  GLMQ_ASSIGN_OR_RETURN(plan::MeasureReport r,
                        plan::MeasureModelVram(a.model, run, contexts, *m));
  const std::string out = a.json  ? plan::RenderMeasureJson(r)
                          : a.csv ? plan::RenderMeasureCsv(r)
                                  : plan::RenderMeasureText(r);
  std::fwrite(out.data(), 1, out.size(), stdout);
  if (!a.svg.empty()) {
    GLMQ_RETURN_IF_ERROR(WriteFileAtomically(a.svg, plan::RenderMeasureSvg(r)));
    std::fprintf(stderr, "wrote %s\n", a.svg.c_str());
  }
  if (a.record) {
    GLMQ_ASSIGN_OR_RETURN(RewriteReport rr, RecordVram(a.model, plan::ToVramProto(r)));
    std::fprintf(stderr, "recorded the VRAM table in %s: %s\n", a.model.c_str(),
                 rr.Describe().c_str());
  }
  if (!r.ok())
    return absl::OutOfRangeError("measured VRAM differs from the prediction by more than 2 %");
  return absl::OkStatus();
}

absl::Status RunPlan(const PlanArgs& a) {
  if (a.measure) return RunMeasure(a);
  if (a.record) return absl::InvalidArgumentError("--record stores a measurement: add --measure");
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
  if (a.cuda) {
    GLMQ_ASSIGN_OR_RETURN(const std::string t, plan::RenderCudaTable(p, src.file_tensors));
    out += "\n" + t;
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
  sub->add_flag("--cuda", a->cuda,
                "add the CUDA runtime's prediction per context (specs/vram.md section 8: "
                "allocator rounding, f32 vector mirrors, backend scratch)");
  sub->add_flag("--measure", a->measure,
                "run MODEL (.glmq) on a CUDA device at each context and print predicted vs "
                "measured VRAM (exit 1 if a row differs by more than 2 %)");
  sub->add_option("--device", a->device, "--measure: cuda or cuda:N (default cuda:0)");
  sub->add_option("--contexts", a->measure_contexts,
                  "--measure: contexts, e.g. 1K,8K,32K,128K (default those up to max_context)");
  sub->add_option("--kv", a->kv, "--measure: KV cache type, bf16 or int8 (default bf16)");
  sub->add_flag("--record", a->record,
                "--measure: store the table in MODEL's metadata (glmq inspect shows it)");
  sub->add_option("--svg", a->svg, "--measure: write predicted curve and measured points (SVG)");
  return [a] { return RunPlan(*a); };
}

}  // namespace

GLMQ_COMMAND(plan, "plan", "weight sizes and VRAM per context length, scheme and KV type",
             Setup);

}  // namespace glmq::tools
