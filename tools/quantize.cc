// glmq quantize IN -o OUT --scheme PRESET [--tensor-type REGEX=ENC[:G] ...]
//                [--method rtn|imatrix|awq|gptq|awq+gptq --calib STATS [--no-equalize]]
//                [--search-grid N]
// IN is an HF checkpoint folder or a .glmq file (pipeline/quantize.h).
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_format.h"
#include "core/file.h"
#include "core/progress.h"
#include "pipeline/quantize.h"
#include "quant/scheme.h"
#include "schema/encodings.h"
#include "schema/weight.h"
#include "tools/command.h"

namespace glmq::tools {
namespace {

// One line per tensor: name, encoding, group, bits/weight, NMSE.
void PrintTensor(const pb::TensorEntry& e, const pb::QuantRule& rule, const TensorResult& r) {
  const double n = static_cast<double>(TensorRows(e)) * TensorCols(e);
  const EncodingTraits* t = FindEncoding(rule.encoding());
  std::string line = absl::StrFormat("%-34s %-5s g%-4d %6.3f bpw", e.name(), t->name,
                                     rule.group_size(), 8.0 * r.bytes / n);
  if (t->quantized) absl::StrAppendFormat(&line, "  nmse %.3e", r.stats.nmse());
  if (IsTerminal(2)) std::fprintf(stderr, "\r\033[K");
  std::fprintf(stderr, "%s\n", line.c_str());
}

RunFn SetupQuantize(CLI::App* sub) {
  auto o = std::make_shared<QuantizeOptions>();
  sub->add_option("input", o->input, "HF checkpoint folder or .glmq file")->required();
  sub->add_option("-o,--output", o->output, "output .glmq file")->required();
  std::string presets;
  for (const auto& p : AllPresets()) absl::StrAppend(&presets, "\n  ", p.name, ": ", p.help);
  sub->add_option("--scheme", o->scheme,
                  absl::StrCat("preset (or 'none' with --tensor-type):", presets))
      ->required();
  sub->add_option("--tensor-type", o->tensor_types,
                  "REGEX=ENC[:GROUP] (ENC q8|q4|q4a|f16|bf16|f32); first match wins, "
                  "before the preset's rules");
  sub->add_option("--method", o->method,
                  "rtn | imatrix | awq | gptq | awq+gptq. rtn needs no statistics: the fast path "
                  "for models without outlier channels. gptq is the recommended calibrated "
                  "method for every scheme, int8 included, and the one for models with outlier "
                  "channels (needs X^T X); awq+gptq gives the same quality, slower; imatrix "
                  "(needs only sum x^2) or awq when the statistics lack X^T X. "
                  "docs/calibration-results.md");
  sub->add_option("--calib", o->calib,
                  "calibration statistics (glmq calibrate) for imatrix, awq, gptq, awq+gptq");
  sub->add_flag("--no-equalize", o->no_equalize,
                "imatrix, gptq: skip the per-channel equalisation of outlier channels (textbook "
                "imatrix / GPTQ)");
  sub->add_option("--search-grid", o->search_grid,
                  "shrink steps of the scale search per group (0 = plain absmax RTN; default 8 for "
                  "q4/q4a, 1 for q8)");
  return [o]() -> absl::Status {
    o->command_line = CommandLine();
    absl::StatusOr<QuantizeSummary> s = QuantizeModel(*o, PrintTensor);
    if (!s.ok()) return s.status();
    if (!s->kept_dense.empty()) {
      std::fprintf(stderr,
                   "kept as stored (the runtime reads them dense; quantized rules skip them): "
                   "%s\n",
                   absl::StrJoin(s->kept_dense, ", ").c_str());
    }
    std::fprintf(stderr, "wrote %s: %s, %.3f bits/weight (%s)\n", o->output.c_str(),
                 FormatBytes(s->file_bytes).c_str(), s->bits_per_weight, s->preset.c_str());
    return absl::OkStatus();
  };
}

}  // namespace

GLMQ_COMMAND(quantize, "quantize", "Quantize a checkpoint (HF folder or .glmq) to a .glmq",
             SetupQuantize);

}  // namespace glmq::tools
