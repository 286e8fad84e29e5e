// The tiled attention with AVX2 + FMA vectors (this file is compiled with
// -mavx2 -mfma).
#include "runtime/cpu/simd_vec_avx2.h"
#include "runtime/vision/attention_tiled.h"

namespace glmq::vision {
namespace {

struct Avx2 : cpu::Avx2Vec {
  static constexpr int kRows = 4, kVecs = 2;  // micro-tile: rows x vectors
};

}  // namespace

namespace internal {
AttentionFn Avx2Attention() { return TiledAttention<Avx2>; }
}  // namespace internal

}  // namespace glmq::vision
