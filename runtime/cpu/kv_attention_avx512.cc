// The tiled KV attention with AVX-512 vectors (this file is compiled with
// -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx2 -mfma -mf16c).
#include "runtime/cpu/kv_attention_tiled.h"
#include "runtime/cpu/simd_vec_avx512.h"

namespace glmq::cpu {
namespace {

struct Avx512 : Avx512Vec {
  // Micro-tiles of 32 zmm. S = q K^T: 6 rows x 4 vectors (64 keys), 24
  // accumulators + 4 loads + 1 broadcast. O += P V: 8 rows x 3 vectors, 24
  // + 3 + 1, so a decode step's 8 rows (GLM-4-9B-Chat-1M) widen each V value once.
  static constexpr int kRows = 6, kVecs = 4, kPvRows = 8, kPvVecs = 3;
};

}  // namespace

namespace internal {
KvAttentionFn Avx512KvAttention() { return TiledKvAttention<Avx512>; }
}  // namespace internal

}  // namespace glmq::cpu
