// CUDA and cuBLAS errors become Statuses of the right code naming the op
// (no device needed: the names come from the runtime library).
#include "runtime/cuda/cuda_status.h"

#include <cublas_api.h>
#include <cuda_runtime_api.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace glmq::cuda {
namespace {

using ::testing::HasSubstr;

TEST(CudaStatusTest, MapsCodesAndNamesTheOp) {
  EXPECT_TRUE(CudaStatus(cudaSuccess, "x").ok());
  const absl::Status oom = CudaStatus(cudaErrorMemoryAllocation, "MatMul 'w' [8, 4] x 1");
  EXPECT_EQ(oom.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(oom.message(), HasSubstr("MatMul 'w' [8, 4] x 1"));
  EXPECT_THAT(oom.message(), HasSubstr("cudaErrorMemoryAllocation"));
  EXPECT_EQ(CudaStatus(cudaErrorNoDevice, "init").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(CudaStatus(cudaErrorInvalidValue, "k").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CudaStatus(cudaErrorIllegalAddress, "Attention").code(), absl::StatusCode::kInternal);
}

TEST(CudaStatusTest, MapsCublas) {
  EXPECT_TRUE(CublasStatus(CUBLAS_STATUS_SUCCESS, "x").ok());
  const absl::Status s = CublasStatus(CUBLAS_STATUS_ALLOC_FAILED, "cublasGemmEx rows [0, 8)");
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(s.message(), HasSubstr("CUBLAS_STATUS_ALLOC_FAILED"));
  EXPECT_THAT(s.message(), HasSubstr("rows [0, 8)"));
  EXPECT_EQ(CublasStatus(CUBLAS_STATUS_EXECUTION_FAILED, "g").code(),
            absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace glmq::cuda
