// Builds the non-tensor metadata of a canonical model from an HF folder:
// hparams (vocab_size from the tokenizer), verbatim configs, embedded
// tokenizer files with special tokens / chat template / eos ids, provenance.
#pragma once

#include "absl/status/statusor.h"
#include "convert/hf_checkpoint.h"
#include "schema/glmq.pb.h"

namespace glmq {

// Fills everything but `tensors`; shard hashes are left 0 (HashShards).
absl::StatusOr<pb::ModelMetadata> HfModelMetadata(const HfCheckpoint& ckpt);

}  // namespace glmq
