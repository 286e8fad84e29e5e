// Hugging Face config.json -> canonical pb::HParams for every GLM-4 layout
// (chatglm, glm, glm4, glm4v; chatglm + vision_config = glm-4v-9b).
// The mapping of each field is documented in specs/glm4-tensors.md.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/json.h"
#include "schema/glmq.pb.h"
#include "schema/hparams.h"

namespace glmq {

// Maps a parsed config.json onto HParams. `where` names the source in errors
// ("glm-4-9b-chat/config.json"). Unknown model_type or architecture is an
// error naming the field. vocab_size (real tokens) is left 0: it comes from
// the tokenizer at convert time. Vision models also fill hparams.vision.
absl::StatusOr<pb::HParams> HParamsFromHfConfig(const Json& config, absl::string_view where);

// Reads and maps a config.json file.
absl::StatusOr<pb::HParams> HParamsFromConfigFile(const std::string& path);

}  // namespace glmq
