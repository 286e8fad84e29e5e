// A .glmq's tensors against its hyperparameters: the file must hold exactly
// the tensors of the tensor table (schema/tensors.h ModelTensors) for its
// hparams, each with the table's shape, role and layer, plus the optional
// kept-column companions of its linears (schema/tensors.h CompanionTable). GlmqFile::Open
// checks each entry on its own (sizes, offsets, overlaps); this checks that
// they make up the model the hparams describe. Used by `glmq verify`.
#pragma once

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "schema/glmq.pb.h"

namespace glmq {

// Validates md.hparams() (schema/hparams.h) and the tensor list against
// it. The error starts with `where` and names the first missing, extra or
// misshapen tensor.
absl::Status CheckTensorsMatchHParams(const pb::ModelMetadata& md, absl::string_view where);

// For writers of formats without kept input columns (GGUF, AWQ, GPTQ): an
// error naming the first companion tensor of md and `format`, OK if none.
absl::Status CheckNoKeptColumns(const pb::ModelMetadata& md, absl::string_view where,
                                absl::string_view format);

}  // namespace glmq
