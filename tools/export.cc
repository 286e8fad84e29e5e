// glmq export M.glmq --to gguf -o M.gguf | --to awq|gptq -o DIR: a model for
// llama.cpp / Ollama, or vLLM / SGLang / transformers.
// Library: export/gguf_export.h, export/hf_quant_export.h; docs/export.md.
#include <cstdio>
#include <map>

#include "core/progress.h"
#include "export/gguf_export.h"
#include "export/hf_quant_export.h"
#include "tools/command.h"

namespace glmq::tools {
namespace {

struct ExportArgs {
  std::string input, output, to = "gguf";
  bool verbose = false;
};

absl::Status RunExport(const ExportArgs& a) {
  if (a.to != "gguf") {
    const auto format = a.to == "awq" ? gguf::HfQuantFormat::kAwq : gguf::HfQuantFormat::kGptq;
    auto s = gguf::ExportHfQuant(a.input, a.output, format);
    if (!s.ok()) return s.status();
    std::printf(
        "wrote %s (%s, group size %d, %s): %d packed linears, %d dense tensors, %s in %d "
        "shard(s); codes and scales exactly glmq's\n",
        a.output.c_str(), a.to.c_str(), s->group_size,
        s->symmetric ? "symmetric, zero point 8" : "zero points", s->quantized_linears,
        s->dense_tensors, FormatBytes(s->bytes).c_str(), s->shards);
    if (s->widened_to_f32 > 0) {
      std::printf(
          "  %d quantized non-linear tensors (embedding, output) written as F32, their "
          "exact values\n",
          s->widened_to_f32);
    }
    return absl::OkStatus();
  }
  auto stats = gguf::ExportGguf(a.input, a.output);
  if (!stats.ok()) return stats.status();
  std::map<std::string, int> by_type;
  int widened = 0;
  for (const gguf::ExportTensorNote& t : stats->tensors) {
    ++by_type[t.type + " (from " + t.from + ")"];
    widened += t.widened;
    if (a.verbose) {
      std::printf("%-32s %-5s from %s%s\n", t.name.c_str(), t.type.c_str(), t.from.c_str(),
                  t.widened ? " (widened, exact)" : "");
    }
  }
  std::printf("wrote %s: arch %s, %d tensors, %s in %.1f s; every tensor exact\n", a.output.c_str(),
              stats->arch.c_str(), stats->n_tensors, FormatBytes(stats->file_bytes).c_str(),
              stats->seconds);
  for (const auto& [type, n] : by_type) std::printf("  %3d x %s\n", n, type.c_str());
  if (widened > 0) {
    std::printf(
        "  %d tensors repeat their group's scale in every 32-value block (or are F32): "
        "the same values in more bytes\n",
        widened);
  }
  std::printf("  tokenizer: %lld merges", static_cast<long long>(stats->n_merges));
  if (stats->unmergeable_tokens > 0) {
    std::printf(", %lld tokens without a two-part merge",
                static_cast<long long>(stats->unmergeable_tokens));
  }
  std::printf("\n");
  return absl::OkStatus();
}

RunFn SetupExport(CLI::App* sub) {
  auto args = std::make_shared<ExportArgs>();
  sub->add_option("model", args->input, "input .glmq file")->required();
  sub->add_option("--to", args->to,
                  "gguf (llama.cpp, Ollama: a file), awq or gptq (vLLM, SGLang, transformers: a "
                  "folder)")
      ->check(CLI::IsMember({"gguf", "awq", "gptq"}));
  sub->add_option("-o,--output", args->output, "output file (gguf) or folder (awq, gptq)")
      ->required();
  sub->add_flag("-v,--verbose", args->verbose, "one line per tensor");
  return [args]() { return RunExport(*args); };
}

}  // namespace

GLMQ_COMMAND(export, "export",
             "Export a .glmq as GGUF (llama.cpp, Ollama) or an AWQ / GPTQ folder (vLLM)",
             SetupExport);

}  // namespace glmq::tools
