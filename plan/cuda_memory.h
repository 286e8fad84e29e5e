// The device memory of one CUDA run (specs/vram.md §8), term by term: what
// `glmq plan --measure` predicts for each context before it measures. Every
// term comes from the description the runtime allocates with: the GPU
// weight layout (runtime/cuda/repack.h), the KV block layout
// (runtime/kv_layout.h), the session's buffers (runtime/buffers.h), the
// backend's scratch and the allocator's rounding
// (runtime/cuda/device_memory.h), plus the measured CUDA context allowance.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "runtime/kv_layout.h"
#include "schema/glmq.pb.h"

namespace glmq::plan {

// Multiprocessors assumed when no device is at hand (H100 SXM and H200).
inline constexpr int64_t kDefaultSms = 132;

// The run `plan --measure` makes at one context: a session of `context`
// positions, KV contents up to context - n - 1, one prefill chunk of
// n = min(prefill_chunk, context - 1) tokens, one decode step.
struct CudaRun {
  int64_t context = 1024;
  int64_t prefill_chunk = 512;
  bool all_logits = true;  // the prefill chunk's logits for every row
  KvType kv = KvType::kBF16;
  int64_t sms = kDefaultSms;
  int64_t PrefillTokens() const;
};

struct CudaTerm {
  std::string name;        // "weights", "kv_cache", ...
  std::string allocation;  // which allocation(s) it is
  uint64_t requested = 0;  // bytes asked for
  uint64_t device = 0;     // after the allocator's rounding
};

struct CudaPrediction {
  std::vector<CudaTerm> terms;
  uint64_t total() const;  // sum of device bytes
};

// The entries a .glmq quantized with preset `scheme` would hold (names,
// roles, shapes, encodings; no offsets), for predicting without a file.
absl::StatusOr<std::vector<pb::TensorEntry>> SchemeTensorEntries(const pb::HParams& hp,
                                                                 absl::string_view scheme);

// `tensors`: the model's entries (a .glmq's, or a scheme's planned ones),
// vision tensors ignored (a text run does not upload them).
absl::StatusOr<CudaPrediction> PredictCudaRun(const pb::HParams& hp,
                                              const std::vector<pb::TensorEntry>& tensors,
                                              const CudaRun& run);

struct Plan;  // plan/memory.h

// `glmq plan --cuda`: the CUDA prediction (PredictCudaRun: rounding,
// mirrors and scratch included) for every scheme of `plan` x KV type x row
// context, next to the device-independent total of §1-§4. `file_tensors`:
// a .glmq's own entries for its "file" column (or empty).
absl::StatusOr<std::string> RenderCudaTable(const Plan& plan,
                                            const std::vector<pb::TensorEntry>& file_tensors);

}  // namespace glmq::plan
