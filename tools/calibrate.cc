// glmq calibrate MODEL.glmq --text FILE -o stats.bin [--windows N] [--ctx N]
//                 [--samples N] [--no-xtx] [--layers-per-pass K]
// Activation statistics for imatrix / AWQ / GPTQ (runtime/calib/calibrate.h).
#include <cstdio>

#include "runtime/calib/calibrate.h"
#include "tools/command.h"

namespace glmq::tools {
namespace {

RunFn Setup(CLI::App* sub) {
  auto a = std::make_shared<CalibrateOptions>();
  sub->add_option("model", a->model, "model .glmq file (bf16/f32 weights)")->required();
  sub->add_option("--text", a->text, "calibration text file (UTF-8)")->required();
  sub->add_option("-o,--output", a->output, "statistics file to write")->required();
  sub->add_option("--windows", a->windows, "windows of --ctx tokens, spread over the text (0 = all)");
  sub->add_option("--ctx", a->ctx, "tokens per window");
  sub->add_option("--samples", a->samples, "activation rows kept per input for AWQ (0 = none)");
  sub->add_flag("--no-xtx", a->no_xtx, "skip X^T X (GPTQ): imatrix/AWQ statistics only");
  sub->add_option("--layers-per-pass", a->layers_per_pass,
                  "record K layers per pass over the text (bounds memory; 0 = as many as keep "
                  "the statistics of a pass within 4 GiB)");
  sub->add_option("--seed", a->seed, "seed of the activation sample");
  sub->add_option("-t,--threads", a->threads, "threads (default: all)");
  sub->add_option("--tokenizer", a->tokenizer,
                  "tokenizer to use (HF folder, tokenizer.model, tokenizer.json or .glmq), e.g. "
                  "for a .glmq without one (glmq synth output); its ids must be < the model's "
                  "vocabulary");
  sub->add_option("--layers", a->layers,
                  "FIRST:END: record only layers [FIRST, END) (the rest are quantized with rtn; "
                  "for benchmarks)");
  return [a]() -> absl::Status {
    a->command_line = CommandLine();
    absl::StatusOr<CalibrateSummary> s = Calibrate(*a);
    if (!s.ok()) return s.status();
    std::fprintf(stderr,
                 "wrote %s: %d inputs, %lld windows x %lld tokens, passes: %d of <= %d layers, "
                 "%.1f s\n",
                 a->output.c_str(), s->n_inputs, static_cast<long long>(s->windows),
                 static_cast<long long>(a->ctx), s->passes, s->layers_per_pass, s->seconds);
    return absl::OkStatus();
  };
}

}  // namespace

GLMQ_COMMAND(calibrate, "calibrate",
             "collect activation statistics for imatrix / AWQ / GPTQ quantization", Setup);

}  // namespace glmq::tools
