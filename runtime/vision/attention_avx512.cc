// The tiled attention with AVX-512 vectors (this file is compiled with
// -mavx512f -mavx512dq -mavx2 -mfma).
#include "runtime/cpu/simd_vec_avx512.h"
#include "runtime/vision/attention_tiled.h"

namespace glmq::vision {
namespace {

struct Avx512 : cpu::Avx512Vec {
  static constexpr int kRows = 6, kVecs = 4;  // micro-tile: rows x vectors
};

}  // namespace

namespace internal {
AttentionFn Avx512Attention() { return TiledAttention<Avx512>; }
}  // namespace internal

}  // namespace glmq::vision
