// glmq synth --config <real config.json> -o <dir> [--layers N]
//            [--hidden-scale F | --hidden H] [--seed S] [--index real.index.json]
//            [--tokenizer DIR|FILE ...]
#include <cstdio>
#include <filesystem>

#include "convert/synth.h"
#include "core/file.h"
#include "core/progress.h"
#include "tools/command.h"

namespace glmq::tools {
namespace {

struct SynthArgs {
  std::string config;
  std::string output;
  std::string index;
  SynthOptions options;
  bool dry_run = false;
};

// shared/reference/configs/<m>.json -> shared/reference/tensors/<m>.safetensors.index.json
std::string DefaultIndex(const std::string& config) {
  namespace fs = std::filesystem;
  const fs::path p(config);
  const fs::path idx = p.parent_path().parent_path() / "tensors" /
                       (p.stem().string() + ".safetensors.index.json");
  return FileExists(idx.string()) ? idx.string() : "";
}

RunFn SetupSynth(CLI::App* sub) {
  auto a = std::make_shared<SynthArgs>();
  sub->add_option("--config", a->config, "a real config.json")->required();
  sub->add_option("-o,--output", a->output, "output checkpoint folder")->required();
  sub->add_option("--layers", a->options.layers, "number of layers (default: as the config)");
  auto* hs = sub->add_option("--hidden-scale", a->options.hidden_scale, "scale hidden size");
  sub->add_option("--hidden", a->options.hidden, "hidden size")->excludes(hs);
  sub->add_option("--seed", a->options.seed, "random seed");
  sub->add_option("--index", a->index,
                  "real model.safetensors.index.json whose shard boundaries to copy (full size "
                  "only; default: shared/reference/tensors/<config stem>.safetensors.index.json)");
  sub->add_option("--tokenizer", a->options.tokenizer,
                  "copy a real tokenizer into the folder (convert embeds it): an HF folder, or "
                  "tokenizer.model / tokenizer.json / tokenizer_config.json / "
                  "generation_config.json files; repeatable");
  sub->add_flag("--dry-run", a->dry_run, "print the plan, write nothing");
  return [a]() -> absl::Status {
    auto config = ReadJsonFile(a->config);
    if (!config.ok()) return config.status();
    a->options.real_index = a->index.empty() ? DefaultIndex(a->config) : a->index;
    auto plan = PlanSynth(*config, a->options);
    if (!plan.ok()) return plan.status();
    std::fprintf(stderr, "synth: %lld layers, hidden %lld, %zu shards, %llu bytes of tensors, "
                 "%zu tokenizer files\n",
                 (long long)plan->hparams.n_layers(), (long long)plan->hparams.hidden_size(),
                 plan->shards.size(), (unsigned long long)plan->total_bytes,
                 plan->tokenizer_files.size());
    if (a->dry_run) return absl::OkStatus();
    return WriteSynth(*plan, a->options.seed, a->output);
  };
}

}  // namespace

GLMQ_COMMAND(synth, "synth", "Write a deterministic random HF checkpoint of a GLM-4 layout",
             SetupSynth);

}  // namespace glmq::tools
