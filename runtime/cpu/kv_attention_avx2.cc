// The tiled KV attention with AVX2 vectors (this file is compiled with
// -mavx2 -mfma -mf16c).
#include "runtime/cpu/kv_attention_tiled.h"
#include "runtime/cpu/simd_vec_avx2.h"

namespace glmq::cpu {
namespace {

struct Avx2 : Avx2Vec {
  // Micro-tiles 4 rows x 2 vectors: 8 accumulators + 2 loads + 1 broadcast of 16 ymm.
  static constexpr int kRows = 4, kVecs = 2, kPvRows = 4, kPvVecs = 2;
};

}  // namespace

namespace internal {
KvAttentionFn Avx2KvAttention() { return TiledKvAttention<Avx2>; }
}  // namespace internal

}  // namespace glmq::cpu
