// --device parsing, and the CUDA backend's refusal without a device.
#include "runtime/device.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/cuda/cuda_backend.h"

namespace glmq {
namespace {

TEST(DeviceTest, ParsesCpuCudaAndIndex) {
  EXPECT_EQ(ParseDevice("cpu")->kind, DeviceSpec::kCpu);
  EXPECT_EQ(ParseDevice("cuda")->kind, DeviceSpec::kCuda);
  EXPECT_EQ(ParseDevice("cuda")->index, 0);
  EXPECT_EQ(ParseDevice("cuda:3")->index, 3);
  EXPECT_EQ(DeviceName(*ParseDevice("cuda:3")), "cuda:3");
  for (const char* bad : {"gpu", "cuda:", "cuda:-1", "cuda:x", "cuda:+1", "CPU", ""}) {
    const auto d = ParseDevice(bad);
    EXPECT_FALSE(d.ok()) << bad;
    if (!d.ok()) {
      EXPECT_THAT(d.status().message(), testing::HasSubstr("cpu, cuda or cuda:N"));
    }
  }
}

TEST(DeviceTest, CpuBackendAndCleanRefusalOfAMissingDevice) {
  auto cpu = MakeBackend(DeviceSpec{}, 1);
  ASSERT_TRUE(cpu.ok());
  EXPECT_TRUE((*cpu)->host_memory());
  // One past the last device is never there: a Status, not an abort.
  auto none = MakeBackend(DeviceSpec{DeviceSpec::kCuda, CudaDeviceCount()}, 1);
  EXPECT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace glmq
