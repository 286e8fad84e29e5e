// Non-finite values never enter a .glmq: GlmqWriter feeds every tensor's
// bytes through a FiniteScan, which checks each f32 / f16 / bf16 value of a
// dense tensor and each f16 scale (and min) of a quantized one, across any
// chunking of the appends, and that no q8 code is -128 (outside q8's
// symmetric range). One place for every path into a file (convert,
// quantize from a folder or a .glmq, calibrated methods, synthetic models).
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "core/dtype.h"
#include "schema/glmq.pb.h"

namespace glmq {

class FiniteScan {
 public:
  // For a checked entry (CheckTensorEntry passed); other encodings (i32)
  // are not scanned.
  explicit FiniteScan(const pb::TensorEntry& entry);
  // The next bytes of the tensor; the first non-finite value is an error
  // naming the tensor and its row and column (or group).
  absl::Status Feed(absl::Span<const uint8_t> data);

 private:
  absl::Status FeedDense(const uint8_t* p, uint64_t n);
  absl::Status FeedGroups(const uint8_t* p, uint64_t n);
  absl::Status FeedQ8Codes(const uint8_t* p, uint64_t n) const;
  absl::Status Bad(uint64_t element, bool group) const;
  const pb::TensorEntry& entry_;
  int64_t cols_ = 1;
  bool dense_ = false, quantized_ = false, q8_ = false;
  DType dtype_ = DType::kF32;
  uint64_t elem_ = 0;  // dense: bytes per value
  uint64_t group_bytes_ = 0, header_bytes_ = 0, groups_per_row_ = 0;
  uint64_t pos_ = 0;   // bytes fed so far
  uint8_t carry_[4];   // a value or group header split across Feed calls
};

}  // namespace glmq
