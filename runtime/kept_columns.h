// The kept input columns of a linear (glmq quantize --keep-outliers;
// schema/tensors.h CompanionTable) as the runtime reads them: attached to
// the linear's WeightView at load (the backends split it again with
// schema/weight.h MainWeight / KeptWeight).
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "runtime/weights.h"
#include "schema/weight.h"

namespace glmq {

// Attaches the companions of linear `w` from `src`, if it has any: both or
// neither, the table's encodings, kept_cols [w.rows, n], kept_idx [n] with
// 1 <= n < w.cols, every index in [0, w.cols) and distinct. Errors name the
// offending tensor.
absl::Status AttachKeptColumns(const WeightSource& src, WeightView* w);

}  // namespace glmq
