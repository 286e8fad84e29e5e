// CUDA and cuBLAS error codes as absl::Status, naming the operation and its
// shapes: out of memory -> ResourceExhausted, no device or driver ->
// FailedPrecondition, a bad argument -> InvalidArgument, anything else
// (a kernel fault, a launch failure) -> Internal. Never aborts.
#pragma once

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace glmq::cuda {

// `code` is a cudaError_t; `what`: "MatMul 'blk.0.attn_qkv.weight' [4608,
// 4096] x 1 token". OK for cudaSuccess.
absl::Status CudaStatus(int code, absl::string_view what);
// `code` is a cublasStatus_t.
absl::Status CublasStatus(int code, absl::string_view what);

}  // namespace glmq::cuda
