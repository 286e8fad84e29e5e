// A Hugging Face checkpoint folder: config.json, generation_config.json
// (optional), model.safetensors or model.safetensors.index.json + shards,
// and the tokenizer files (read verbatim). Open() validates the whole folder
// (every shard header, the index against the shards, shard paths staying
// inside the folder) before any tensor data is read. Thread-safe after Open.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "convert/safetensors.h"
#include "core/json.h"
#include "schema/glmq.pb.h"

namespace glmq {

// One HF tensor and the shard that holds it.
struct HfTensor {
  const SafetensorsFile* shard;
  const SafetensorsTensor* tensor;
};

class HfCheckpoint {
 public:
  static absl::StatusOr<std::unique_ptr<HfCheckpoint>> Open(const std::string& dir);

  const std::string& dir() const { return dir_; }
  const std::string& config_json() const { return config_json_; }  // verbatim
  const Json& config() const { return config_; }
  const std::string& generation_config_json() const { return generation_config_json_; }
  const pb::HParams& hparams() const { return hparams_; }
  // (file name, verbatim contents) of tokenizer.model, tokenizer.json,
  // tokenizer_config.json - those present.
  const std::vector<std::pair<std::string, std::string>>& tokenizer_files() const {
    return tokenizer_files_;
  }
  // Shard file names relative to dir, and their opened files (same order).
  const std::vector<std::string>& shard_names() const { return shard_names_; }
  const std::vector<std::unique_ptr<SafetensorsFile>>& shards() const { return shards_; }
  // Every tensor of every shard, in shard then file order.
  const std::vector<HfTensor>& tensors() const { return tensors_; }
  // nullptr if absent.
  const HfTensor* Find(absl::string_view name) const;

 private:
  HfCheckpoint() = default;
  absl::Status LoadShards();
  absl::Status AddShard(const std::string& name);
  std::string dir_;
  std::string config_json_;
  Json config_;
  std::string generation_config_json_;
  pb::HParams hparams_;
  std::vector<std::pair<std::string, std::string>> tokenizer_files_;
  std::vector<std::string> shard_names_;
  std::vector<std::unique_ptr<SafetensorsFile>> shards_;
  std::vector<HfTensor> tensors_;
  absl::flat_hash_map<std::string, int> by_name_;
};

// Checks that `name` (from an index weight_map) is a plain relative path
// that stays inside `dir` (no absolute path, no "..", no symlink escaping).
absl::Status CheckShardPath(const std::string& dir, const std::string& name);

}  // namespace glmq
