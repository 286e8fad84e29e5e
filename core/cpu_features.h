// Run-time CPU feature detection for kernel dispatch. The build targets
// baseline x86-64; AVX2 and AVX-512 kernels live in files compiled with their
// own flags and are only called when these say the CPU has them.
#pragma once

#include "absl/strings/string_view.h"
#include <string>

namespace glmq {

enum class SimdLevel { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

struct CpuFeatures {
  bool avx2 = false;         // with FMA and F16C
  bool avx512 = false;       // F, BW, VL, DQ
  bool avx512_vnni = false;
  bool avx512_bf16 = false;
  bool avx_vnni = false;     // VEX-encoded VNNI (AVX2 machines)
};

const CpuFeatures& GetCpuFeatures();
// The best level the CPU supports, capped by GLMQ_SIMD=scalar|avx2|avx512
// in the environment (for tests and for comparing kernels).
SimdLevel ActiveSimdLevel();
std::string SimdLevelName(SimdLevel level);

}  // namespace glmq
