// CudaBackend::MatMul: GEMV kernels (weights decoded in registers) for up
// to kMaxGemvTokens tokens; above, cuBLAS GEMMs in bf16 (quantized weights
// decoded slice by slice into bf16 scratch) or f32, f32 accumulation.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "runtime/cuda/cuda_backend_impl.h"
#include "runtime/cuda/device_memory.h"

namespace glmq::cuda {
namespace {

static_assert(kGemvMaxTokens == kMaxGemvTokens, "device_memory.h and kernels.h disagree");

GemmOperand Operand(const DeviceWeight& w) {
  if (w.quantized) return GemmOperand::kQuant;
  if (w.dense == DenseElem::kF16) return GemmOperand::kF16;
  return w.dense == DenseElem::kBF16 ? GemmOperand::kBF16 : GemmOperand::kF32;
}

}  // namespace

absl::Status CudaBackend::MatMulKept(const WeightView& w, const float* x, int64_t n_tokens,
                                     float* y) {
  // The indices go up as a mirrored "vector": the same 4-byte words.
  GLMQ_ASSIGN_OR_RETURN(const float* idx_words,
                        weights_->Vector(reinterpret_cast<const float*>(w.kept_idx), w.n_kept));
  const int32_t* idx = reinterpret_cast<const int32_t*>(idx_words);
  GLMQ_ASSIGN_OR_RETURN(void* split, Scratch(5, KeptSplitBytes(n_tokens, w.cols, w.n_kept)));
  GLMQ_ASSIGN_OR_RETURN(void* yk, Scratch(6, KeptProductBytes(n_tokens, w.rows)));
  float* xz = static_cast<float*>(split);
  float* xg = xz + KeptZeroedFloats(n_tokens, w.cols);
  GLMQ_RETURN_IF_ERROR(
      CudaStatus(LaunchSplitKept(x, n_tokens, w.cols, idx, w.n_kept, xz, xg, stream_),
                 absl::StrCat("kept columns of '", w.name, "'")));
  GLMQ_RETURN_IF_ERROR(MatMul(MainWeight(w), xz, n_tokens, y));
  GLMQ_RETURN_IF_ERROR(MatMul(KeptWeight(w), xg, n_tokens, static_cast<float*>(yk)));
  return CudaStatus(LaunchAdd(y, static_cast<const float*>(yk), n_tokens * w.rows, stream_),
                    absl::StrCat("kept columns of '", w.name, "': add"));
}

absl::Status CudaBackend::MatMul(const WeightView& w, const float* x, int64_t n_tokens,
                                 float* y) {
  Use();
  GLMQ_RETURN_IF_ERROR(TakeSticky());
  if (w.n_kept > 0) return MatMulKept(w, x, n_tokens, y);
  GLMQ_ASSIGN_OR_RETURN(const DeviceWeight* dw, weights_->Get(w));
  if (n_tokens <= kMaxGemvTokens) {
    const int n = static_cast<int>(n_tokens);
    const cudaError_t e = dw->quantized
                              ? LaunchGemvQuant(dw->q, x, n, y, stream_)
                              : LaunchGemvDense(dw->dense, dw->data, w.rows, w.cols, x, n, y,
                                                stream_);
    return CudaStatus(e, absl::StrCat("GEMV '", w.name, "' [", w.rows, ", ", w.cols, "] x ",
                                      n_tokens, " tokens"));
  }
  return Annotate(Gemm(*dw, w, x, n_tokens, y),
                  absl::StrCat("GEMM '", w.name, "' [", w.rows, ", ", w.cols, "] x ", n_tokens,
                               " tokens"));
}

absl::Status CudaBackend::GemmSlice(const void* a, cudaDataType at, const void* b,
                                    cudaDataType bt, int64_t r0, int64_t r1,
                                    const DeviceWeight& w, int64_t n, float* y) {
  // Row-major Y [n, rows] is column-major Y^T [rows, n]: Y^T = W X^T with
  // W row-major [rows, cols] read as column-major [cols, rows], transposed.
  // `a` holds rows [r0, r1) of W; they land in rows [r0, r1) of Y^T.
  const float alpha = 1.f, beta = 0.f;
  return CublasStatus(
      cublasGemmEx(cublas_, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(r1 - r0),
                   static_cast<int>(n), static_cast<int>(w.cols), &alpha, a, at,
                   static_cast<int>(w.cols), b, bt, static_cast<int>(w.cols), &beta, y + r0,
                   CUDA_R_32F, static_cast<int>(w.rows), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
      absl::StrCat("cublasGemmEx rows [", r0, ", ", r1, ")"));
}

absl::Status CudaBackend::Gemm(const DeviceWeight& w, const WeightView& view, const float* x,
                               int64_t n, float* y) {
  if (!w.quantized && w.dense == DenseElem::kF32) {
    return GemmSlice(w.data, CUDA_R_32F, x, CUDA_R_32F, 0, w.rows, w, n, y);
  }
  // Slices of rows decoded to bf16 (quantized) or f32 (f16) behind the
  // activations (bf16, or f32 for f16 weights).
  // Sizes from device_memory.h, the description the planner adds up.
  const bool f16 = !w.quantized && w.dense == DenseElem::kF16;
  const GemmOperand op = Operand(w);
  const uint64_t xbytes = GemmActivationBytes(op, w.cols, n);
  const int64_t per = GemmSliceRows(op, w.rows, w.cols);
  const bool bf16_dense = op == GemmOperand::kBF16;
  GLMQ_ASSIGN_OR_RETURN(void* scratch, Scratch(0, GemmScratchBytes(op, w.rows, w.cols, n)));
  uint8_t* xs = static_cast<uint8_t*>(scratch);
  uint8_t* slice = xs + xbytes;
  const void* xin = x;
  if (!f16) {
    GLMQ_RETURN_IF_ERROR(CudaStatus(
        LaunchF32ToBf16(x, n * w.cols, reinterpret_cast<uint16_t*>(xs), stream_), "x to bf16"));
    xin = xs;
  }
  const cudaDataType t = f16 ? CUDA_R_32F : CUDA_R_16BF;
  if (bf16_dense) return GemmSlice(w.data, t, xin, t, 0, w.rows, w, n, y);
  for (int64_t r0 = 0; r0 < w.rows; r0 += per) {
    const int64_t r1 = std::min(w.rows, r0 + per);
    const cudaError_t e =
        f16 ? LaunchF16ToF32(static_cast<const uint16_t*>(w.data) + r0 * w.cols,
                             (r1 - r0) * w.cols, reinterpret_cast<float*>(slice), stream_)
            : LaunchDequantToBf16(w.q, r0, r1, reinterpret_cast<uint16_t*>(slice), stream_);
    GLMQ_RETURN_IF_ERROR(CudaStatus(e, absl::StrCat("decode rows [", r0, ", ", r1, ")")));
    GLMQ_RETURN_IF_ERROR(GemmSlice(slice, t, xin, t, r0, r1, w, n, y));
  }
  return absl::OkStatus();
}

}  // namespace glmq::cuda
