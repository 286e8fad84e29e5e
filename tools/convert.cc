// glmq convert <hf-dir> -o model.glmq [--dtype bf16|f16|f32]
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "pipeline/convert.h"
#include "core/progress.h"
#include "export/gguf_source.h"
#include "export/hf_quant_source.h"
#include "schema/encodings.h"
#include "tools/command.h"

namespace glmq::tools {
namespace {

struct ConvertArgs {
  std::string input;
  std::string output;
  std::string dtype;
};

RunFn SetupConvert(CLI::App* sub) {
  auto args = std::make_shared<ConvertArgs>();
  sub->add_option("hf_dir", args->input, "Hugging Face checkpoint folder, or a .gguf file")
      ->required();
  sub->add_option("-o,--output", args->output, "output .glmq file")->required();
  sub->add_option("--dtype", args->dtype,
                  "store every tensor as bf16|f16|f32 (default: keep the source dtype, "
                  "bit-exact)")
      ->check(CLI::IsMember({"bf16", "f16", "f32"}));
  return [args]() -> absl::Status {
    const bool gguf = args->input.ends_with(".gguf");  // export/gguf_source.h
    if (gguf || gguf::IsHfQuantFolder(args->input)) {   // export/hf_quant_source.h
      auto s = gguf ? gguf::ImportGguf(args->input, args->output, CommandLine())
                    : gguf::ImportHfQuant(args->input, args->output, CommandLine());
      if (!s.ok()) return s.status();
      std::fprintf(stderr, "wrote %s: %d tensors, %s in %.1f s\n", args->output.c_str(),
                   s->n_tensors, FormatBytes(s->file_bytes).c_str(), s->seconds);
      return absl::OkStatus();
    }
    ConvertOptions opt;
    opt.command_line = CommandLine();
    if (!args->dtype.empty()) {
      const EncodingTraits* t = FindEncodingByName(args->dtype);
      if (t == nullptr) return absl::InvalidArgumentError("--dtype: unknown " + args->dtype);
      opt.dtype = t->encoding;
    }
    auto stats = ConvertHfToGlmq(args->input, args->output, opt);
    if (!stats.ok()) return stats.status();
    std::fprintf(stderr, "wrote %s: %d tensors, %s in %.1f s (%.2f GB/s)\n",
                 args->output.c_str(), stats->n_tensors, FormatBytes(stats->file_bytes).c_str(),
                 stats->seconds, stats->tensor_bytes_read / 1e9 / std::max(stats->seconds, 1e-9));
    return absl::OkStatus();
  };
}

}  // namespace

GLMQ_COMMAND(convert, "convert", "Convert a Hugging Face GLM-4 checkpoint to .glmq (lossless)",
             SetupConvert);

}  // namespace glmq::tools
