// Verify-on-read for streamed .glmq inputs (quantize, calibrated methods):
// a TensorSource wrapper that hashes every tensor's rows as they are read
// in order and compares the XXH64 of the whole tensor with its stored
// checksum when its last row is read. A mismatch fails that read with
// DataLoss naming the tensor, before any output is committed. Costs no
// extra I/O (the bytes are hashed on their way through; about 10 GB/s per
// core), unlike verifying the whole file before streaming it.
#pragma once

#include <memory>

#include "pipeline/source.h"

namespace glmq {

// Reads that do not continue a tensor where the previous read of it ended
// restart its hash at row 0 or leave it unverified (out-of-order reads).
std::unique_ptr<TensorSource> VerifyingSource(std::unique_ptr<TensorSource> inner);

}  // namespace glmq
