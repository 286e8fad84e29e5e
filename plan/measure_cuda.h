// The VramMeasurer of `glmq plan --measure` on a CUDA device (the CUDA
// runtime, runtime/cuda/). Each Measure loads the model onto the device
// afresh, creates the session a run at that context would (KV cache type,
// prefill chunk, logits), fills the KV cache up to the last chunk (a real
// prefill up to kRealPrefillTokens, synthetic contents beyond, which hold
// the same bytes), runs one prefill chunk and one decode step, and reads
// the device memory in use after each step; the peak minus what was in use
// before this process touched the device is the measurement (the CUDA
// context included). The baseline comes from NVML before the first CUDA
// context; without NVML it is read after the context exists and the
// context is counted as the allowance (said in `method`).
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "plan/measure.h"

namespace glmq::plan {

inline constexpr int64_t kRealPrefillTokens = 4096;

// FailedPrecondition naming the reason (no device, no driver, a build
// without CUDA) when device `index` cannot be measured.
absl::StatusOr<std::unique_ptr<VramMeasurer>> MakeCudaMeasurer(const std::string& model_path,
                                                               int index);

}  // namespace glmq::plan
