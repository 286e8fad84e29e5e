// The synthesizer: writes a deterministic random HF checkpoint of any GLM-4
// text layout from a real config.json (optionally with fewer layers or a
// narrower hidden size), sharded like the real one. Weights ~N(0, 0.02) in
// bf16, norms ~1, chatglm's inv_freq as the real one. With tokenizer files
// (SynthOptions.tokenizer) the folder gets them too, so that convert embeds
// a real tokenizer and the synthetic model can be run end to end.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "convert/safetensors.h"
#include "core/json.h"
#include "schema/glmq.pb.h"

namespace glmq {

struct SynthOptions {
  int64_t layers = 0;         // 0: as in the config
  int64_t hidden = 0;         // 0: as in the config (or hidden_scale)
  double hidden_scale = 0;    // 0: none; else hidden ~ scale * hidden
  uint64_t seed = 0;
  std::string real_index;     // model.safetensors.index.json to copy shard boundaries from
  uint64_t shard_bytes = 5'000'000'000;  // when not copying a real index
  // Tokenizer files to copy into the folder: HF folders (their
  // tokenizer.model, tokenizer.json, tokenizer_config.json,
  // generation_config.json) or single files of those names.
  std::vector<std::string> tokenizer;
};

struct SynthShard {
  std::string name;                        // "model-00001-of-00010.safetensors"
  std::vector<SafetensorsTensor> tensors;  // offsets relative to the data section
  uint64_t data_bytes = 0;
};

struct SynthPlan {
  Json config;  // adjusted config.json
  pb::HParams hparams;
  std::vector<SynthShard> shards;
  uint64_t total_bytes = 0;  // sum of tensor bytes (index metadata.total_size)
  std::vector<std::pair<std::string, std::string>> tokenizer_files;  // (name, source path)
};

// Plans without writing anything (the planned total size is testable cheaply).
absl::StatusOr<SynthPlan> PlanSynth(const Json& real_config, const SynthOptions& options);

// Writes config.json, the shards, (for > 1 shard) the index and the
// tokenizer files into `dir`.
absl::Status WriteSynth(const SynthPlan& plan, uint64_t seed, const std::string& dir);

}  // namespace glmq
