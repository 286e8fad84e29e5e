#include "runtime/cpu/cpu_backend.h"

#include <omp.h>
#include <sys/mman.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "quant/dequantize.h"
#include "schema/encodings.h"
#include "runtime/cpu/kv_attention.h"
#include "runtime/cpu/qmatmul.h"

namespace glmq {
namespace {
// Below this many multiply-adds an OpenMP fork/join costs more than it
// saves (and on a loaded machine a barrier can cost a scheduler tick).
constexpr int64_t kMinParallelMacs = 1 << 18;
}  // namespace

CpuBackend::CpuBackend(int n_threads, const cpu::DenseKernels* kernels)
    : n_threads_(n_threads > 0 ? n_threads : omp_get_max_threads()),
      k_(kernels ? kernels : &cpu::ActiveDenseKernels()) {}

std::string CpuBackend::name() const {
  return absl::StrCat("cpu-", SimdLevelName(k_->level), "-", n_threads_, "t");
}

// W·x' + kept·x[idx] (schema/weight.h): the main product on x with the
// kept columns zeroed, the kept columns' through the dense kernels.
absl::Status CpuBackend::MatMulKept(const WeightView& w, const float* x, int64_t n_tokens,
                                    float* y) {
  thread_local std::vector<float> xz, xg, yk;
  xz.resize(n_tokens * w.cols);
  xg.resize(n_tokens * w.n_kept);
  yk.resize(n_tokens * w.rows);
  SplitKeptColumns(w, x, n_tokens, xz.data(), xg.data());
  GLMQ_RETURN_IF_ERROR(MatMul(MainWeight(w), xz.data(), n_tokens, y));
  GLMQ_RETURN_IF_ERROR(MatMul(KeptWeight(w), xg.data(), n_tokens, yk.data()));
  Add(y, yk.data(), n_tokens * w.rows);
  return absl::OkStatus();
}

absl::Status CpuBackend::MatMul(const WeightView& w, const float* x, int64_t n_tokens,
                                float* y) {
  if (w.n_kept > 0) return MatMulKept(w, x, n_tokens, y);
  DType dt;
  if (DenseDType(w.encoding, &dt)) {
    const cpu::DenseKernels* k = k_;
    // Rows split evenly between threads in blocks of 32 (the GEMM's panel).
    const bool parallel = w.rows * w.cols * n_tokens >= kMinParallelMacs;
#pragma omp parallel num_threads(n_threads_) if (parallel)
    {
      const int64_t nt = omp_get_num_threads(), id = omp_get_thread_num();
      const int64_t blocks = (w.rows + 31) / 32;
      const int64_t r0 = std::min(w.rows, blocks * id / nt * 32);
      const int64_t r1 = std::min(w.rows, blocks * (id + 1) / nt * 32);
      if (r0 < r1) k->matmul_rows(dt, w.data, w.cols, x, n_tokens, y, w.rows, r0, r1);
    }
    return absl::OkStatus();
  }
  const EncodingTraits* traits = FindEncoding(w.encoding);
  if (traits != nullptr && traits->quantized) {
    // Same rule as the dense path: small products run on the calling thread.
    const bool parallel = w.rows * w.cols * n_tokens >= kMinParallelMacs;
    return QuantMatMul(w, x, n_tokens, y, parallel ? n_threads_ : 1);
  }
  return absl::UnimplementedError(absl::StrCat("matmul of tensor '", w.name, "': encoding ",
                                               pb::Encoding_Name(w.encoding),
                                               " is not supported by the CPU backend"));
}

absl::Status CpuBackend::Embedding(const WeightView& table, const int32_t* ids, int64_t n,
                                   float* out) {
  const EncodingTraits* traits = FindEncoding(table.encoding);
  if (traits == nullptr || table.encoding == pb::ENCODING_I32) {
    return absl::UnimplementedError(absl::StrCat("embedding of tensor '", table.name,
                                                 "': encoding ", table.encoding,
                                                 " is not supported"));
  }
  for (int64_t t = 0; t < n; ++t) {
    if (ids[t] < 0 || ids[t] >= table.rows) {
      return absl::OutOfRangeError(absl::StrCat("embedding: token id ", ids[t], " at ", t,
                                                " is outside [0, ", table.rows, ")"));
    }
  }
  DType dt;
  if (DenseDType(table.encoding, &dt)) {
    for (int64_t t = 0; t < n; ++t) {
      ConvertToF32(dt, table.data + ids[t] * table.cols * DTypeSize(dt),
                   out + t * table.cols, table.cols);
    }
    return absl::OkStatus();
  }
  // Quantized (q8/q4/q4a): decode each looked-up row with the reference
  // dequantizer (quant/dequantize.h), so a lookup equals DequantizeRow of
  // the stored tensor bit for bit. Only the n looked-up rows are touched.
  const absl::Span<const uint8_t> bytes(table.data, table.size);
  for (int64_t t = 0; t < n; ++t) {
    GLMQ_RETURN_IF_ERROR(Annotate(DequantizeRows(table.encoding, table.group_size, table.rows,
                                                 table.cols, bytes, ids[t], ids[t] + 1,
                                                 out + t * table.cols),
                                  "embedding"));
  }
  return absl::OkStatus();
}

void CpuBackend::RmsNorm(const float* x, const float* weight, int64_t n_tokens, int64_t dim,
                         float eps, float* out) {
  for (int64_t t = 0; t < n_tokens; ++t) {
    const float* xr = x + t * dim;
    float* o = out + t * dim;
    float ss = 0.f;
    for (int64_t i = 0; i < dim; ++i) ss += xr[i] * xr[i];
    const float inv = 1.0f / std::sqrt(ss / static_cast<float>(dim) + eps);
    for (int64_t i = 0; i < dim; ++i) o[i] = weight[i] * (xr[i] * inv);
  }
}

void CpuBackend::AddBias(float* y, const float* bias, int64_t n_tokens, int64_t dim) {
  for (int64_t t = 0; t < n_tokens; ++t)
    for (int64_t i = 0; i < dim; ++i) y[t * dim + i] += bias[i];
}

void CpuBackend::Add(float* x, const float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

void CpuBackend::RopePositions(float* x, int64_t row_stride, int64_t n_tokens, int64_t n_heads,
                               int64_t head_dim, int64_t rope_dims, const int64_t* positions,
                               absl::Span<const int64_t> sections, double base) {
  const int64_t pairs = rope_dims / 2;
  std::vector<int> stream(pairs, 0);  // the position stream of each pair
  for (int64_t i = 0, s = 0, end = sections.empty() ? pairs : sections[0]; i < pairs; ++i) {
    while (i >= end && s + 1 < static_cast<int64_t>(sections.size())) end += sections[++s];
    stream[i] = static_cast<int>(s);
  }
  std::vector<float> cs(2 * pairs);  // [pairs, (cos, sin)]
  for (int64_t t = 0; t < n_tokens; ++t) {
    for (int64_t i = 0; i < pairs; ++i) {
      const float inv_freq =
          static_cast<float>(1.0 / std::pow(base, static_cast<double>(2 * i) / rope_dims));
      const float angle = static_cast<float>(positions[stream[i] * n_tokens + t]) * inv_freq;
      cs[2 * i] = std::cos(angle);
      cs[2 * i + 1] = std::sin(angle);
    }
    for (int64_t h = 0; h < n_heads; ++h) {
      float* v = x + t * row_stride + h * head_dim;
      for (int64_t i = 0; i < pairs; ++i) {
        const float a = v[2 * i], b = v[2 * i + 1];
        v[2 * i] = a * cs[2 * i] - b * cs[2 * i + 1];
        v[2 * i + 1] = b * cs[2 * i] + a * cs[2 * i + 1];
      }
    }
  }
}

void CpuBackend::Rope(float* x, int64_t row_stride, int64_t n_tokens, int64_t n_heads,
                      int64_t head_dim, int64_t rope_dims, int64_t pos0, double base) {
  const int64_t pairs = rope_dims / 2;
  std::vector<float> cs(2 * pairs);  // [pairs, (cos, sin)]
  for (int64_t t = 0; t < n_tokens; ++t) {
    const double pos = static_cast<double>(pos0 + t);
    for (int64_t i = 0; i < pairs; ++i) {
      // inv_freq as the reference computes it, in f32: 1 / base^(2i / rope_dims).
      const float inv_freq =
          static_cast<float>(1.0 / std::pow(base, static_cast<double>(2 * i) / rope_dims));
      const float angle = static_cast<float>(pos) * inv_freq;
      cs[2 * i] = std::cos(angle);
      cs[2 * i + 1] = std::sin(angle);
    }
    for (int64_t h = 0; h < n_heads; ++h) {
      float* v = x + t * row_stride + h * head_dim;
      for (int64_t i = 0; i < pairs; ++i) {
        const float a = v[2 * i], b = v[2 * i + 1];
        v[2 * i] = a * cs[2 * i] - b * cs[2 * i + 1];
        v[2 * i + 1] = b * cs[2 * i] + a * cs[2 * i + 1];
      }
    }
  }
}

absl::StatusOr<void*> CpuBackend::AllocateKvBlock(uint64_t bytes) {
  // A private anonymous mapping per block: page-aligned and zero-filled by
  // the kernel, its pages resident once written (so the process's RSS
  // follows the positions written, at most one block ahead of them), and
  // unmapped, not kept in a malloc arena, when the block is freed.
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    return absl::ResourceExhaustedError(
        absl::StrCat("KV cache: cannot map a block of ", bytes, " bytes"));
  return p;
}

void CpuBackend::FreeKvBlock(void* block, uint64_t bytes) { ::munmap(block, bytes); }

uint64_t CpuBackend::AvailableMemoryBytes() const {
  std::ifstream in("/proc/meminfo");
  std::string key;
  uint64_t kib = 0;
  std::string unit;
  while (in >> key >> kib >> unit) {
    if (key == "MemAvailable:") return kib * 1024;
  }
  return 0;
}

void CpuBackend::WriteKv(const float* k, const float* v, int64_t row_stride, int64_t n_tokens,
                         const AttentionShape& s, int64_t pos0, const KvCacheView& cache) {
  cpu::WriteKvRows(k, v, row_stride, n_tokens, s, pos0, cache);
}

void CpuBackend::Attention(const float* q, int64_t q_stride, int64_t n_tokens,
                           const AttentionShape& s, int64_t pos0, const KvCacheView& cache,
                           float* scratch, float* out) {
  cpu::GetKvAttention(k_->level, s.head_dim)(q, q_stride, n_tokens, s, pos0, cache, scratch, out,
                                             n_threads_);
}

void CpuBackend::SwiGlu(const float* gu, int64_t n_tokens, int64_t ffn, float* out) {
#pragma omp parallel for num_threads(n_threads_) schedule(static) if (n_tokens * ffn >= kMinParallelMacs / 8)
  for (int64_t t = 0; t < n_tokens; ++t) {
    const float* g = gu + t * 2 * ffn;
    const float* u = g + ffn;
    float* o = out + t * ffn;
    for (int64_t i = 0; i < ffn; ++i) o[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
  }
}

}  // namespace glmq
