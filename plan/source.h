// What `glmq plan MODEL` plans for: a Hugging Face folder (its config.json),
// a bare config.json, or a .glmq file (its HParams and its own tensor sizes).
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "schema/glmq.pb.h"
#include "plan/memory.h"

namespace glmq::plan {

struct PlanSource {
  std::string path;
  std::string kind;  // "hf-folder", "config.json", "glmq"
  pb::HParams hparams;
  std::optional<SchemeWeights> file_weights;  // .glmq only: sum of its tensor sizes
  std::vector<pb::TensorEntry> file_tensors;   // .glmq only: its entries (for --tp)
};

// Errors name the path and, for a bad config, the field.
absl::StatusOr<PlanSource> LoadPlanSource(const std::string& path);

}  // namespace glmq::plan
