#include "runtime/cpu/cpu_backend.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "quant/dequantize.h"
#include "schema/encodings.h"
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

absl::Status CpuBackend::MatMul(const WeightView& w, const float* x, int64_t n_tokens,
                                float* y) {
  DType dt;
  if (DenseDType(w.encoding, &dt)) {
    const cpu::DenseKernels* k = k_;
    // Rows split evenly between threads in pairs (the 2-row microkernel).
    const bool parallel = w.rows * w.cols * n_tokens >= kMinParallelMacs;
#pragma omp parallel num_threads(n_threads_) if (parallel)
    {
      const int64_t nt = omp_get_num_threads(), id = omp_get_thread_num();
      const int64_t pairs = (w.rows + 1) / 2;
      const int64_t r0 = std::min(w.rows, pairs * id / nt * 2);
      const int64_t r1 = std::min(w.rows, pairs * (id + 1) / nt * 2);
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

void CpuBackend::WriteKv(const float* k, const float* v, int64_t row_stride, int64_t n_tokens,
                         const AttentionShape& s, int64_t pos0, KvCacheView cache) {
  const size_t es = DTypeSize(cache.type);
  for (int64_t t = 0; t < n_tokens; ++t) {
    for (int64_t g = 0; g < s.n_kv_heads; ++g) {
      const int64_t dst = ((g * cache.max_context) + pos0 + t) * s.head_dim;
      ConvertFromF32(cache.type, k + t * row_stride + g * s.head_dim,
                     static_cast<uint8_t*>(cache.k) + dst * es, s.head_dim);
      ConvertFromF32(cache.type, v + t * row_stride + g * s.head_dim,
                     static_cast<uint8_t*>(cache.v) + dst * es, s.head_dim);
    }
  }
}

namespace {

// Row `pos` of kv head g as f32: a pointer into the cache when it is f32,
// else converted into `tmp` ([head_dim]).
inline const float* KvRow(const void* base, DType type, int64_t max_context, int64_t head_dim,
                          int64_t g, int64_t pos, float* tmp) {
  const int64_t off = (g * max_context + pos) * head_dim;
  if (type == DType::kF32) return static_cast<const float*>(base) + off;
  ConvertToF32(type, static_cast<const uint8_t*>(base) + off * DTypeSize(type), tmp, head_dim);
  return tmp;
}

}  // namespace

void CpuBackend::Attention(const float* q, int64_t q_stride, int64_t n_tokens,
                           const AttentionShape& s, int64_t pos0, KvCacheView cache,
                           float* scratch, float* out) {
  const int64_t group = s.n_heads / s.n_kv_heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.head_dim));
  const cpu::DenseKernels* k = k_;
  const int64_t jobs = n_tokens * s.n_heads;
  const bool parallel = jobs * (pos0 + n_tokens) * s.head_dim >= kMinParallelMacs;
#pragma omp parallel for num_threads(n_threads_) schedule(dynamic, 1) if (parallel)
  for (int64_t job = 0; job < jobs; ++job) {
    const int64_t t = job / s.n_heads, h = job % s.n_heads, g = h / group;
    const int64_t n_pos = pos0 + t + 1;  // causal: positions [0, pos0 + t]
    float* sc = scratch + static_cast<int64_t>(omp_get_thread_num()) * cache.max_context;
    std::vector<float> tmp(cache.type == DType::kF32 ? 0 : s.head_dim);
    const float* qh = q + t * q_stride + h * s.head_dim;
    float mx = -INFINITY;
    for (int64_t j = 0; j < n_pos; ++j) {
      const float* kr = KvRow(cache.k, cache.type, cache.max_context, s.head_dim, g, j, tmp.data());
      sc[j] = k->dot(qh, kr, s.head_dim) * scale;
      mx = std::max(mx, sc[j]);
    }
    float sum = 0.f;
    for (int64_t j = 0; j < n_pos; ++j) {
      sc[j] = std::exp(sc[j] - mx);
      sum += sc[j];
    }
    float* o = out + t * s.n_heads * s.head_dim + h * s.head_dim;
    std::fill(o, o + s.head_dim, 0.f);
    const float inv = 1.0f / sum;
    for (int64_t j = 0; j < n_pos; ++j) {
      const float* vr = KvRow(cache.v, cache.type, cache.max_context, s.head_dim, g, j, tmp.data());
      k->axpy(sc[j] * inv, vr, o, s.head_dim);
    }
  }
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
