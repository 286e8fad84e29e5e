// A float buffer in a backend's memory (Backend::AllocateFloats: host
// memory for the CPU, device memory for CUDA), freed through the same
// backend. Move-only. The session's working buffers are these.
#pragma once

#include <cstdint>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "runtime/backend.h"

namespace glmq {

class BackendFloats {
 public:
  BackendFloats() = default;
  // n zero floats; ResourceExhausted from the backend when it cannot.
  static absl::StatusOr<BackendFloats> Allocate(Backend* backend, int64_t n) {
    absl::StatusOr<float*> p = backend->AllocateFloats(n);
    if (!p.ok()) return p.status();
    if (*p == nullptr) {
      return absl::ResourceExhaustedError(
          absl::StrCat(backend->name(), ": cannot allocate ", n * sizeof(float), " bytes"));
    }
    BackendFloats b;
    b.backend_ = backend;
    b.data_ = *p;
    b.size_ = n;
    return b;
  }
  BackendFloats(BackendFloats&& o) noexcept { *this = std::move(o); }
  BackendFloats& operator=(BackendFloats&& o) noexcept {
    std::swap(backend_, o.backend_);
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
    return *this;
  }
  ~BackendFloats() {
    if (data_ != nullptr) backend_->FreeFloats(data_);
  }
  float* data() const { return data_; }
  int64_t size() const { return size_; }

 private:
  Backend* backend_ = nullptr;
  float* data_ = nullptr;
  int64_t size_ = 0;
};

}  // namespace glmq
