#include "runtime/cpu/kernels.h"

namespace glmq::cpu {

const DenseKernels& GetDenseKernels(SimdLevel level) {
  const CpuFeatures& f = GetCpuFeatures();
  if (level == SimdLevel::kAvx512 && f.avx512 && f.avx2) return Avx512Kernels();
  if (level >= SimdLevel::kAvx2 && f.avx2) return Avx2Kernels();
  return ScalarKernels();
}

const DenseKernels& ActiveDenseKernels() {
  static const DenseKernels& k = GetDenseKernels(ActiveSimdLevel());
  return k;
}

}  // namespace glmq::cpu
