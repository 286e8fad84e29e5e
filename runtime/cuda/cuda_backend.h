// The CUDA backend of runtime/backend.h: the same forward pass
// (runtime/session.cc) over device-resident buffers. Weights are uploaded
// once (weight_store.h; quantized ones repacked, repack.h); decode GEMVs
// decode q8/q4/q4a groups in registers, prefill GEMMs run on cuBLAS in
// bf16 (f32 accumulation); attention is tiled with an online softmax and
// split over keys (attention_plan.h); KV blocks live in device memory.
// Every CUDA error becomes a Status naming the op and its shapes.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "runtime/backend.h"

namespace glmq {

class VisionKernels;  // runtime/vision/vision_kernels.h

// Devices the CUDA runtime sees: 0 without a driver or device, or in a
// build without CUDA (GLMQ_CUDA off).
int CudaDeviceCount();

// The CUDA backend on device `index`. FailedPrecondition (saying why) with
// no such device or in a build without CUDA.
absl::StatusOr<std::unique_ptr<Backend>> MakeCudaBackend(int index);

// The vision towers' ops on `backend`, a backend MakeCudaBackend made
// (cuda_vision.cc); InvalidArgument for another backend, FailedPrecondition
// in a build without CUDA. `backend` must outlive the result.
absl::StatusOr<std::unique_ptr<VisionKernels>> MakeCudaVisionKernels(Backend* backend);

}  // namespace glmq
