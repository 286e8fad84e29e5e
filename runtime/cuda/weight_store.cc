#include "runtime/cuda/weight_store.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "runtime/cuda/cuda_status.h"
#include "schema/encodings.h"

namespace glmq::cuda {

absl::StatusOr<void*> DeviceAlloc(uint64_t bytes, absl::string_view what) {
  size_t free_b = 0, total_b = 0;
  GLMQ_RETURN_IF_ERROR(CudaStatus(cudaMemGetInfo(&free_b, &total_b), "cudaMemGetInfo"));
  if (bytes > free_b) {
    return absl::ResourceExhaustedError(absl::StrCat(what, " needs ", bytes,
                                                     " bytes of device memory; ", free_b, " of ",
                                                     total_b, " are free"));
  }
  void* p = nullptr;
  GLMQ_RETURN_IF_ERROR(
      CudaStatus(cudaMalloc(&p, std::max<uint64_t>(bytes, 1)), absl::StrCat("cudaMalloc ", what)));
  return p;
}

WeightStore::~WeightStore() {
  for (auto& [k, w] : weights_) cudaFree(w.data);
  for (auto& [k, v] : vectors_) cudaFree(v);
  for (cudaEvent_t e : events_) {
    if (e) cudaEventDestroy(e);
  }
  if (staging_) cudaFreeHost(staging_);
}

namespace {

// Asks the kernel to reclaim the whole pages of an uploaded tensor
// (MADV_PAGEOUT keeps the contents: file pages are re-read, anonymous ones
// swapped, on a later access), so the host's RSS stays near the staging
// buffer while a large mapped model loads. Advice only: errors are ignored.
void ReleaseHostPages(const uint8_t* data, uint64_t size) {
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(data) + page - 1) / page * page;
  const uintptr_t end = (reinterpret_cast<uintptr_t>(data) + size) / page * page;
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_PAGEOUT);
}

}  // namespace

absl::StatusOr<const DeviceWeight*> WeightStore::Get(const WeightView& w) {
  auto it = weights_.find(w.data);
  if (it != weights_.end()) return &it->second;
  DeviceWeight dw;
  GLMQ_RETURN_IF_ERROR(Annotate(Upload(w, &dw), absl::StrCat("tensor '", w.name, "'")));
  ReleaseHostPages(w.data, w.size);
  return &weights_.emplace(w.data, dw).first->second;
}

absl::StatusOr<const float*> WeightStore::Vector(const float* host, int64_t n) {
  auto it = vectors_.find(host);
  if (it != vectors_.end()) return it->second;
  GLMQ_ASSIGN_OR_RETURN(void* p, DeviceAlloc(n * sizeof(float), "norm/bias vector"));
  vectors_[host] = static_cast<float*>(p);
  device_bytes_ += n * sizeof(float);
  GLMQ_RETURN_IF_ERROR(CudaStatus(
      cudaMemcpyAsync(p, host, n * sizeof(float), cudaMemcpyHostToDevice, stream_),
      "upload of a norm/bias vector"));
  return static_cast<const float*>(p);
}

absl::StatusOr<uint8_t*> WeightStore::Staging(int i) {
  if (staging_ == nullptr) {
    void* p = nullptr;
    GLMQ_RETURN_IF_ERROR(CudaStatus(cudaMallocHost(&p, kStagingBytes), "pinned staging buffer"));
    staging_ = static_cast<uint8_t*>(p);
    for (cudaEvent_t& e : events_) {
      GLMQ_RETURN_IF_ERROR(
          CudaStatus(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "cudaEventCreate"));
    }
  }
  GLMQ_RETURN_IF_ERROR(CudaStatus(cudaEventSynchronize(events_[i]), "staging copy"));
  return staging_ + i * (kStagingBytes / 2);
}

absl::Status WeightStore::Copied(int i) {
  return CudaStatus(cudaEventRecord(events_[i], stream_), "cudaEventRecord");
}

absl::Status WeightStore::Upload(const WeightView& w, DeviceWeight* dw) {
  dw->rows = w.rows;
  dw->cols = w.cols;
  DType dt;
  if (DenseDType(w.encoding, &dt)) {
    dw->dense = dt == DType::kF32 ? DenseElem::kF32
                : dt == DType::kF16 ? DenseElem::kF16 : DenseElem::kBF16;
    return UploadDense(w, dw);
  }
  const EncodingTraits* t = FindEncoding(w.encoding);
  if (t == nullptr || !t->quantized) {
    return absl::UnimplementedError(absl::StrCat("encoding ", pb::Encoding_Name(w.encoding),
                                                 " is not supported by the CUDA backend"));
  }
  GLMQ_ASSIGN_OR_RETURN(const GpuQuantLayout l,
                        MakeGpuQuantLayout(w.encoding, w.group_size, w.rows, w.cols));
  return UploadQuant(w, l, dw);
}

absl::Status WeightStore::UploadDense(const WeightView& w, DeviceWeight* dw) {
  GLMQ_ASSIGN_OR_RETURN(dw->data, DeviceAlloc(w.size, absl::StrCat("tensor '", w.name, "'")));
  dw->bytes = w.size;
  device_bytes_ += w.size;
  const uint64_t half = kStagingBytes / 2;
  int i = 0;
  for (uint64_t off = 0; off < w.size; off += half, i ^= 1) {
    const uint64_t n = std::min(half, w.size - off);
    GLMQ_ASSIGN_OR_RETURN(uint8_t* stage, Staging(i));
    std::memcpy(stage, w.data + off, n);
    GLMQ_RETURN_IF_ERROR(CudaStatus(cudaMemcpyAsync(static_cast<uint8_t*>(dw->data) + off, stage,
                                                    n, cudaMemcpyHostToDevice, stream_),
                                    "weight upload"));
    GLMQ_RETURN_IF_ERROR(Copied(i));
  }
  return CudaStatus(cudaStreamSynchronize(stream_), "weight upload");
}

absl::Status WeightStore::UploadQuant(const WeightView& w, const GpuQuantLayout& l,
                                      DeviceWeight* dw) {
  GLMQ_ASSIGN_OR_RETURN(dw->data,
                        DeviceAlloc(l.total_bytes, absl::StrCat("tensor '", w.name, "'")));
  dw->bytes = l.total_bytes;
  dw->quantized = true;
  device_bytes_ += l.total_bytes;
  uint8_t* base = static_cast<uint8_t*>(dw->data);
  dw->q = QuantW{base, reinterpret_cast<const uint16_t*>(base + l.scales_offset),
                 l.has_min ? reinterpret_cast<const uint16_t*>(base + l.mins_offset) : nullptr,
                 l.bits, l.value_offset, l.has_min, l.rows, l.cols, l.g, l.n_groups,
                 l.row_value_bytes};
  const int64_t per = RowsPerSlice(l, kStagingBytes / 2 - 64);
  const int64_t hdr = 2 * l.n_groups;
  int i = 0;
  for (int64_t r0 = 0; r0 < l.rows; r0 += per, i ^= 1) {
    const int64_t r1 = std::min(l.rows, r0 + per), n = r1 - r0;
    GLMQ_ASSIGN_OR_RETURN(uint8_t* stage, Staging(i));
    uint8_t* values = stage;
    uint16_t* scales = reinterpret_cast<uint16_t*>(stage + (n * l.row_value_bytes + 15) / 16 * 16);
    uint16_t* mins = scales + n * l.n_groups + 8;
    RepackRows(w, l, r0, r1, values, scales, mins);
    auto copy = [&](uint64_t dst, const void* src, uint64_t bytes) {
      return CudaStatus(
          cudaMemcpyAsync(base + dst, src, bytes, cudaMemcpyHostToDevice, stream_),
          "weight upload");
    };
    GLMQ_RETURN_IF_ERROR(copy(r0 * l.row_value_bytes, values, n * l.row_value_bytes));
    GLMQ_RETURN_IF_ERROR(copy(l.scales_offset + r0 * hdr, scales, n * hdr));
    if (l.has_min) GLMQ_RETURN_IF_ERROR(copy(l.mins_offset + r0 * hdr, mins, n * hdr));
    GLMQ_RETURN_IF_ERROR(Copied(i));
  }
  return CudaStatus(cudaStreamSynchronize(stream_), "weight upload");
}

}  // namespace glmq::cuda
