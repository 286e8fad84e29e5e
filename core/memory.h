// Sizes derived from input: 64-bit checked products, and a check that an
// allocation fits in the memory the machine can give before it is made, so
// that a header claiming 2^40 positions is a clear error, not bad_alloc or
// the OOM killer.
#pragma once

#include <cstdint>
#include <initializer_list>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace glmq {

// The product of `factors` (each >= 0), or OutOfRange naming `what` when it
// does not fit in 63 bits (so it converts to int64_t and off_t safely).
absl::StatusOr<uint64_t> CheckedProduct(std::initializer_list<uint64_t> factors,
                                        absl::string_view what);
absl::StatusOr<uint64_t> CheckedSum(std::initializer_list<uint64_t> terms, absl::string_view what);

// Bytes this process may still allocate: MemAvailable + SwapFree from
// /proc/meminfo, capped by RLIMIT_AS / RLIMIT_DATA headroom; ~0 if unknown.
uint64_t AvailableMemoryBytes();

// ResourceExhausted naming `what` when `bytes` exceed AvailableMemoryBytes():
// "<what> needs 1.50 GiB, but only 0.90 GiB of memory is available".
absl::Status CheckMemoryFor(uint64_t bytes, absl::string_view what);

}  // namespace glmq
