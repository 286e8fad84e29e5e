#include "runtime/cuda/cuda_backend.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "runtime/cuda/attention_plan.h"
#include "runtime/cuda/cuda_backend_impl.h"

namespace glmq {

int CudaDeviceCount() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clears the error for later calls
    return 0;
  }
  return n;
}

namespace {

absl::Status CheckIndex(int index) {
  const int count = CudaDeviceCount();
  if (index >= 0 && index < count) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("cuda:", index, ": ",
                   count == 0 ? "no CUDA device (or driver) is present"
                              : absl::StrCat("only ", count, " CUDA device(s) present")));
}

std::string Version(int v) { return absl::StrCat(v / 1000, ".", v % 1000 / 10); }

}  // namespace

absl::StatusOr<CudaDeviceFacts> DescribeCudaDevice(int index) {
  GLMQ_RETURN_IF_ERROR(CheckIndex(index));
  const std::string dev = absl::StrCat("cuda:", index);
  cudaDeviceProp prop;
  GLMQ_RETURN_IF_ERROR(cuda::CudaStatus(cudaGetDeviceProperties(&prop, index), dev));
  CudaDeviceFacts f;
  f.name = prop.name;
  f.sms = prop.multiProcessorCount;
  f.total_bytes = prop.totalGlobalMem;
  char bus[32] = {};
  GLMQ_RETURN_IF_ERROR(cuda::CudaStatus(cudaDeviceGetPCIBusId(bus, sizeof(bus), index), dev));
  f.pci_bus_id = bus;
  int runtime = 0, driver = 0;
  cudaRuntimeGetVersion(&runtime);
  cudaDriverGetVersion(&driver);
  f.cuda_version = absl::StrCat("runtime ", Version(runtime), ", driver API ", Version(driver));
  return f;
}

absl::StatusOr<uint64_t> CudaUsedBytes(int index) {
  GLMQ_RETURN_IF_ERROR(CheckIndex(index));
  const std::string dev = absl::StrCat("cuda:", index);
  GLMQ_RETURN_IF_ERROR(cuda::CudaStatus(cudaSetDevice(index), dev));
  size_t free_b = 0, total_b = 0;
  GLMQ_RETURN_IF_ERROR(
      cuda::CudaStatus(cudaMemGetInfo(&free_b, &total_b), dev + " cudaMemGetInfo"));
  return static_cast<uint64_t>(total_b - free_b);
}

absl::StatusOr<std::unique_ptr<Backend>> MakeCudaBackend(int index) {
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<cuda::CudaBackend> b, cuda::CudaBackend::Create(index));
  return std::unique_ptr<Backend>(std::move(b));
}

namespace cuda {

absl::StatusOr<std::unique_ptr<CudaBackend>> CudaBackend::Create(int index) {
  const int count = CudaDeviceCount();
  if (index < 0 || index >= count) {
    return absl::FailedPreconditionError(
        absl::StrCat("cuda:", index, ": ",
                     count == 0 ? "no CUDA device (or driver) is present"
                                : absl::StrCat("only ", count, " CUDA device(s) present")));
  }
  std::unique_ptr<CudaBackend> b(new CudaBackend());
  b->device_ = index;
  const std::string dev = absl::StrCat("cuda:", index);
  GLMQ_RETURN_IF_ERROR(CudaStatus(cudaSetDevice(index), dev));
  cudaDeviceProp prop;
  GLMQ_RETURN_IF_ERROR(CudaStatus(cudaGetDeviceProperties(&prop, index), dev));
  b->sms_ = prop.multiProcessorCount;
  b->name_ = absl::StrCat(dev, " (", prop.name, ", sm_", prop.major, prop.minor, ")");
  GLMQ_RETURN_IF_ERROR(CudaStatus(cudaStreamCreateWithFlags(&b->stream_, cudaStreamNonBlocking),
                                  absl::StrCat(dev, " cudaStreamCreate")));
  GLMQ_RETURN_IF_ERROR(CublasStatus(cublasCreate(&b->cublas_), "cublasCreate"));
  GLMQ_RETURN_IF_ERROR(CublasStatus(cublasSetStream(b->cublas_, b->stream_), "cublasSetStream"));
  // The default math mode: bf16 products on tensor cores with f32
  // accumulation, f32 GEMMs in f32 (TF32 only when asked for, never here).
  GLMQ_RETURN_IF_ERROR(
      CublasStatus(cublasSetMathMode(b->cublas_, CUBLAS_DEFAULT_MATH), "cublasSetMathMode"));
  b->weights_ = std::make_unique<WeightStore>(b->stream_);
  return b;
}

CudaBackend::~CudaBackend() {
  Use();
  if (stream_) cudaStreamSynchronize(stream_);
  weights_.reset();
  for (Buf& s : scratch_) cudaFree(s.p);
  if (cublas_) cublasDestroy(cublas_);
  if (stream_) cudaStreamDestroy(stream_);
}

absl::StatusOr<void*> CudaBackend::Scratch(int slot, uint64_t bytes) {
  Buf& s = scratch_[slot];
  if (s.bytes >= bytes) return s.p;
  GLMQ_RETURN_IF_ERROR(CudaStatus(cudaStreamSynchronize(stream_), "scratch resize"));
  cudaFree(s.p);
  s = Buf{};
  GLMQ_ASSIGN_OR_RETURN(s.p, DeviceAlloc(bytes, "working scratch"));
  s.bytes = bytes;
  return s.p;
}

absl::StatusOr<float*> CudaBackend::AllocateFloats(int64_t n) {
  Use();
  const uint64_t bytes = static_cast<uint64_t>(std::max<int64_t>(n, 1)) * sizeof(float);
  GLMQ_ASSIGN_OR_RETURN(void* p, DeviceAlloc(bytes, absl::StrCat(name_, " working buffer")));
  GLMQ_RETURN_IF_ERROR(CudaStatus(cudaMemset(p, 0, bytes), "cudaMemset of a working buffer"));
  return static_cast<float*>(p);
}

void CudaBackend::FreeFloats(float* p) { cudaFree(p); }

absl::Status CudaBackend::CopyToHost(const float* src, int64_t n, float* dst) {
  Use();
  GLMQ_RETURN_IF_ERROR(TakeSticky());
  GLMQ_RETURN_IF_ERROR(CudaStatus(
      cudaMemcpyAsync(dst, src, n * sizeof(float), cudaMemcpyDeviceToHost, stream_),
      absl::StrCat("copy of ", n, " floats to the host")));
  return Sync();
}

absl::Status CudaBackend::CopyFromHost(const float* src, int64_t n, float* dst) {
  Use();
  GLMQ_RETURN_IF_ERROR(TakeSticky());
  return CudaStatus(
      cudaMemcpyAsync(dst, src, n * sizeof(float), cudaMemcpyHostToDevice, stream_),
      absl::StrCat("copy of ", n, " floats to the device"));
}

absl::Status CudaBackend::Sync() {
  Use();
  Check(cudaStreamSynchronize(stream_), [] { return "stream synchronize (an earlier kernel)"; });
  return TakeSticky();
}

absl::Status CudaBackend::PrepareWeight(const WeightView& w) {
  Use();
  if (w.n_kept > 0) GLMQ_RETURN_IF_ERROR(weights_->Get(KeptWeight(w)).status());
  return weights_->Get(MainWeight(w)).status();
}

absl::Status CudaBackend::Embedding(const WeightView& table, const int32_t* ids, int64_t n,
                                    float* out) {
  Use();
  GLMQ_RETURN_IF_ERROR(TakeSticky());
  for (int64_t t = 0; t < n; ++t) {
    if (ids[t] < 0 || ids[t] >= table.rows) {
      return absl::OutOfRangeError(absl::StrCat("embedding: token id ", ids[t], " at ", t,
                                                " is outside [0, ", table.rows, ")"));
    }
  }
  GLMQ_ASSIGN_OR_RETURN(const DeviceWeight* w, weights_->Get(table));
  GLMQ_ASSIGN_OR_RETURN(void* dids, Scratch(2, n * sizeof(int32_t)));
  const std::string what = absl::StrCat("Embedding '", table.name, "' ", n, " ids");
  GLMQ_RETURN_IF_ERROR(CudaStatus(
      cudaMemcpyAsync(dids, ids, n * sizeof(int32_t), cudaMemcpyHostToDevice, stream_), what));
  const int32_t* d = static_cast<const int32_t*>(dids);
  return CudaStatus(w->quantized
                        ? LaunchEmbeddingQuant(w->q, d, static_cast<int>(n), out, stream_)
                        : LaunchEmbeddingDense(w->dense, w->data, w->cols, d,
                                               static_cast<int>(n), out, stream_),
                    what);
}

void CudaBackend::RmsNorm(const float* x, const float* weight, int64_t n_tokens, int64_t dim,
                          float eps, float* out) {
  Use();
  absl::StatusOr<const float*> w = weights_->Vector(weight, dim);
  if (!w.ok()) return Check(w.status());
  Check(LaunchRmsNorm(x, *w, n_tokens, dim, eps, out, stream_),
        [&] { return absl::StrCat("RmsNorm [", n_tokens, ", ", dim, "]"); });
}

void CudaBackend::AddBias(float* y, const float* bias, int64_t n_tokens, int64_t dim) {
  Use();
  absl::StatusOr<const float*> b = weights_->Vector(bias, dim);
  if (!b.ok()) return Check(b.status());
  Check(LaunchAddBias(y, *b, n_tokens, dim, stream_),
        [&] { return absl::StrCat("AddBias [", n_tokens, ", ", dim, "]"); });
}

void CudaBackend::Add(float* x, const float* y, int64_t n) {
  Use();
  Check(LaunchAdd(x, y, n, stream_), [&] { return absl::StrCat("Add [", n, "]"); });
}

void CudaBackend::SwiGlu(const float* gate_up, int64_t n_tokens, int64_t ffn, float* out) {
  Use();
  Check(LaunchSwiGlu(gate_up, n_tokens, ffn, out, stream_),
        [&] { return absl::StrCat("SwiGlu [", n_tokens, ", ", ffn, "]"); });
}

void CudaBackend::Rope(float* x, int64_t row_stride, int64_t n_tokens, int64_t n_heads,
                       int64_t head_dim, int64_t rope_dims, int64_t pos0, double base) {
  Use();
  // inv_freq exactly as the CPU backend computes it (f64 pow, then f32).
  float inv_freq[kMaxRopePairs];
  const int64_t pairs = std::min<int64_t>(rope_dims / 2, kMaxRopePairs);
  for (int64_t i = 0; i < pairs; ++i) {
    inv_freq[i] =
        static_cast<float>(1.0 / std::pow(base, static_cast<double>(2 * i) / rope_dims));
  }
  Check(LaunchRope(x, row_stride, n_tokens, n_heads, head_dim, rope_dims, pos0, inv_freq,
                   stream_),
        [&] {
          return absl::StrCat("Rope [", n_tokens, " tokens, ", n_heads, " heads, head_dim ",
                              head_dim, ", rope_dims ", rope_dims, "]");
        });
}

void CudaBackend::RopePositions(float* x, int64_t row_stride, int64_t n_tokens, int64_t n_heads,
                                int64_t head_dim, int64_t rope_dims, const int64_t* positions,
                                absl::Span<const int64_t> sections, double base) {
  Use();
  // Angles on the host exactly as the CPU backend computes them: pair i
  // takes its position from the stream whose section holds it.
  const int64_t pairs = rope_dims / 2;
  std::vector<float> angles(n_tokens * pairs);
  for (int64_t i = 0, s = 0, end = sections.empty() ? pairs : sections[0]; i < pairs; ++i) {
    while (i >= end && s + 1 < static_cast<int64_t>(sections.size())) end += sections[++s];
    const float inv_freq =
        static_cast<float>(1.0 / std::pow(base, static_cast<double>(2 * i) / rope_dims));
    for (int64_t t = 0; t < n_tokens; ++t) {
      angles[t * pairs + i] = static_cast<float>(positions[s * n_tokens + t]) * inv_freq;
    }
  }
  auto what = [&] {
    return absl::StrCat("RopePositions [", n_tokens, " tokens, ", n_heads, " heads, rope_dims ",
                        rope_dims, "]");
  };
  absl::StatusOr<void*> dev = Scratch(4, std::max<size_t>(angles.size(), 1) * sizeof(float));
  if (!dev.ok()) return Check(dev.status());
  Check(cudaMemcpyAsync(*dev, angles.data(), angles.size() * sizeof(float),
                        cudaMemcpyHostToDevice, stream_),
        what);
  Check(LaunchRopeAngles(x, row_stride, n_tokens, n_heads, head_dim, pairs,
                         static_cast<const float*>(*dev), stream_),
        what);
}

}  // namespace cuda
}  // namespace glmq
