#include "core/cpu_features.h"

#include <cstdlib>
#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace glmq {

const CpuFeatures& GetCpuFeatures() {
  static const CpuFeatures f = [] {
    CpuFeatures c;
#if defined(__x86_64__)
    __builtin_cpu_init();
    c.avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    c.avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    c.avx512_vnni = c.avx512 && __builtin_cpu_supports("avx512vnni");
    c.avx512_bf16 = c.avx512 && __builtin_cpu_supports("avx512bf16");
    // AVX-VNNI: CPUID.(EAX=7, ECX=1):EAX bit 4 (read directly: clang 14's
    // __builtin_cpu_supports does not know "avxvnni").
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    c.avx_vnni = __get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx) && (eax & (1u << 4)) != 0;
#endif
    return c;
  }();
  return f;
}

SimdLevel ActiveSimdLevel() {
  static const SimdLevel level = [] {
    const CpuFeatures& f = GetCpuFeatures();
    SimdLevel best = f.avx512 ? SimdLevel::kAvx512 : f.avx2 ? SimdLevel::kAvx2 : SimdLevel::kScalar;
    if (const char* env = std::getenv("GLMQ_SIMD")) {
      SimdLevel cap = best;
      if (std::strcmp(env, "scalar") == 0) cap = SimdLevel::kScalar;
      if (std::strcmp(env, "avx2") == 0) cap = SimdLevel::kAvx2;
      if (static_cast<int>(cap) < static_cast<int>(best)) best = cap;
    }
    return best;
  }();
  return level;
}

std::string SimdLevelName(SimdLevel level) {
  switch (level) {
    case SimdLevel::kAvx512: return "avx512";
    case SimdLevel::kAvx2: return "avx2";
    default: return "scalar";
  }
}

}  // namespace glmq
