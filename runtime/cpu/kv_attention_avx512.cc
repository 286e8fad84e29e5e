// The tiled KV attention with AVX-512 vectors (this file is compiled with
// -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx2 -mfma -mf16c).
#include "runtime/cpu/kv_attention_tiled.h"
#include "runtime/cpu/simd_vec_avx512.h"

namespace glmq::cpu {
namespace {

struct Avx512 : Avx512Vec {
  // Micro-tile 6 rows x 4 vectors (64 keys): 24 accumulators + 4 loads + 1
  // broadcast of 32 zmm.
  static constexpr int kRows = 6, kVecs = 4;
};

}  // namespace

namespace internal {
KvAttentionFn Avx512KvAttention() { return TiledKvAttention<Avx512>; }
}  // namespace internal

}  // namespace glmq::cpu
