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

// GLM-4.1V's preprocessor_config.json (Glm4vImageProcessor) onto
// hp->vision().preprocess: size.shortest_edge / longest_edge (pixel counts),
// rescale_factor, image_mean / image_std; absent keys keep the processor's
// defaults set by HParamsFromHfConfig. Settings glmq does not implement
// (do_resize / do_rescale / do_normalize false, resample other than 3 =
// bicubic, a patch / merge / temporal size other than the vision config's)
// are errors naming the field. Error if hp has no vision tower.
absl::Status FillImagePreprocess(const Json& preprocessor, absl::string_view where,
                                 pb::HParams* hp);

}  // namespace glmq
