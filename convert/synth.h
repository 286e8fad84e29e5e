// The synthesizer: writes a deterministic random HF checkpoint of any GLM-4
// text layout from a real config.json (optionally with fewer layers or a
// narrower hidden size), sharded like the real one. Weights ~N(0, 0.02) in
// bf16, norms ~1, chatglm's inv_freq as the real one. No tokenizer.
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
};

// Plans without writing anything (the planned total size is testable cheaply).
absl::StatusOr<SynthPlan> PlanSynth(const Json& real_config, const SynthOptions& options);

// Writes config.json, the shards and (for > 1 shard) the index into `dir`.
absl::Status WriteSynth(const SynthPlan& plan, uint64_t seed, const std::string& dir);

}  // namespace glmq
