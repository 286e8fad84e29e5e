// What a CUDA context and a cuBLAS handle take of device memory: the term
// specs/vram.md §4 allows for with kCudaContextBytes (plan/memory.h).
// Reads the device's used memory (nvidia-smi, then total - free from
// cudaMemGetInfo) before the first CUDA call and after each step, and prints
// one line per step. Built and run by bench/cuda_context.sh; exits 0 with a
// message where there is no device.
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

constexpr double kMiB = 1024.0 * 1024.0;

// First line of a shell command's output ("" when it fails).
std::string FirstLine(const char* cmd) {
  FILE* p = popen(cmd, "r");
  if (p == nullptr) return "";
  char buf[256] = {0};
  if (fgets(buf, sizeof(buf), p) == nullptr) buf[0] = 0;
  pclose(p);
  std::string s(buf);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// MiB in use on device 0 by nvidia-smi's count (-1 if it cannot tell).
double SmiUsedMiB() {
  const std::string s =
      FirstLine("nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -i 0 2>/dev/null");
  return s.empty() ? -1 : std::atof(s.c_str());
}

// This process's MiB by nvidia-smi's per-process count, as text ("n/a" if
// the driver does not report it, as under some sandboxes).
std::string SmiProcessMiB() {
  char cmd[200];
  std::snprintf(cmd, sizeof(cmd),
                "nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader,nounits "
                "2>/dev/null | awk -F', ' '$1 == %d {print $2}'",
                static_cast<int>(getpid()));
  const std::string s = FirstLine(cmd);
  return s.empty() ? "n/a" : s;
}

double CudaUsedMiB() {
  size_t free_b = 0, total_b = 0;
  if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) return -1;
  return (static_cast<double>(total_b) - static_cast<double>(free_b)) / kMiB;
}

bool Check(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return true;
  std::fprintf(stderr, "cuda_context_probe: %s: %s\n", what, cudaGetErrorString(e));
  return false;
}
bool Check(cublasStatus_t e, const char* what) {
  if (e == CUBLAS_STATUS_SUCCESS) return true;
  std::fprintf(stderr, "cuda_context_probe: %s: cuBLAS status %d\n", what, static_cast<int>(e));
  return false;
}

__global__ void Touch(float* x) { x[threadIdx.x] += 1.f; }

double g_base_smi = 0;
void Row(const char* step) {
  const double smi = SmiUsedMiB();
  std::printf("%-44s %10.0f %10.0f %10.0f %10s\n", step, smi, smi - g_base_smi, CudaUsedMiB(),
              SmiProcessMiB().c_str());
  std::fflush(stdout);
}

}  // namespace

int main() {
  g_base_smi = SmiUsedMiB();
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
    std::printf("cuda_context_probe: no CUDA device; nothing measured\n");
    return 0;
  }
  cudaDeviceProp prop{};
  if (!Check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties")) return 1;
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  const char* lazy = std::getenv("CUDA_MODULE_LOADING");
  std::printf("device: %s, %.0f MiB; driver %d, runtime %d; CUDA_MODULE_LOADING=%s\n", prop.name,
              prop.totalGlobalMem / kMiB, driver, runtime, lazy ? lazy : "(unset: lazy)");
  std::printf("%-44s %10s %10s %10s %10s\n", "step", "smi_used", "smi_delta", "cuda_used",
              "proc_smi");
  std::printf("%-44s %10.0f %10.0f %10s %10s\n", "before any CUDA context", g_base_smi, 0.0, "-",
              "-");

  if (!Check(cudaFree(nullptr), "cudaFree(0)")) return 1;
  Row("context (cudaFree(0))");

  float* x = nullptr;
  if (!Check(cudaMalloc(&x, 2 << 20), "cudaMalloc 2 MiB")) return 1;
  Touch<<<1, 32>>>(x);
  if (!Check(cudaDeviceSynchronize(), "first kernel")) return 1;
  Row("+ 2 MiB buffer and a first kernel");

  cublasHandle_t h = nullptr;
  if (!Check(cublasCreate(&h), "cublasCreate")) return 1;
  Row("+ cublasCreate");

  // A decode-shaped bf16 GEMM, [4096 x 4096] x [4096 x 16], f32 accumulate,
  // on a 32 MiB workspace (what the allowance assumes on Hopper).
  constexpr int kM = 4096, kK = 4096, kN = 16;
  void* ws = nullptr;
  __nv_bfloat16 *a = nullptr, *b = nullptr, *c = nullptr;
  if (!Check(cudaMalloc(&ws, 32 << 20), "cudaMalloc workspace") ||
      !Check(cublasSetWorkspace(h, ws, 32 << 20), "cublasSetWorkspace") ||
      !Check(cudaMalloc(&a, sizeof(__nv_bfloat16) * kM * kK), "cudaMalloc A") ||
      !Check(cudaMalloc(&b, sizeof(__nv_bfloat16) * kK * kN), "cudaMalloc B") ||
      !Check(cudaMalloc(&c, sizeof(__nv_bfloat16) * kM * kN), "cudaMalloc C"))
    return 1;
  const double buffers = (32 << 20) / kMiB + 2.0 * (double(kM) * kK + kK * kN + kM * kN) / kMiB;
  cudaMemset(a, 0, sizeof(__nv_bfloat16) * kM * kK);
  cudaMemset(b, 0, sizeof(__nv_bfloat16) * kK * kN);
  const float one = 1.f, zero = 0.f;
  if (!Check(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, kM, kN, kK, &one, a, CUDA_R_16BF, kM, b,
                          CUDA_R_16BF, kK, &zero, c, CUDA_R_16BF, kM, CUBLAS_COMPUTE_32F,
                          CUBLAS_GEMM_DEFAULT),
             "cublasGemmEx") ||
      !Check(cudaDeviceSynchronize(), "GEMM"))
    return 1;
  Row("+ first bf16 GEMM (buffers below)");
  std::printf("(the GEMM step allocated %.1f MiB of buffers: 32 MiB workspace + A, B, C)\n",
              buffers);

  cublasDestroy(h);
  cudaFree(ws);
  cudaFree(a);
  cudaFree(b);
  cudaFree(c);
  cudaFree(x);
  return 0;
}
