// The KV cache layout (specs/vram.md §2): element types, bytes per token and
// the order of bytes inside one block of block_tokens positions. The one
// description both the runtime (runtime/kv_cache.h allocates blocks of
// BlockBytes(); the backends read and write through the offsets below) and
// the planner (plan/memory.h KvBytes = BytesFor(context)) use, so the plan's
// KV figure is what the runtime allocates.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "schema/glmq.pb.h"

namespace glmq {

enum class KvType : uint8_t { kF32, kF16, kBF16, kInt8 };

// One row per KV type.
struct KvTypeTraits {
  KvType type;
  absl::string_view name;  // "f32", "f16", "bf16", "int8" (the --kv values)
  int value_bytes;         // bytes of one stored value
  bool scaled;             // one f16 scale per (token, kv head, K|V) vector
};
const std::vector<KvTypeTraits>& AllKvTypeTraits();
const KvTypeTraits& Traits(KvType type);
// "bf16" -> KvType::kBF16 ...; error listing the valid names.
absl::StatusOr<KvType> ParseKvType(absl::string_view name);

// Positions per allocation block. 256 keeps the rounding small (at most 255
// positions, 20 MiB of bf16 KV for glm-4-9b-chat-1m) and is a multiple of
// every attention key tile.
inline constexpr int64_t kKvBlockTokens = 256;

// Inside a block, for layer l, kind c (0 = K, 1 = V) and kv head h, with
// i = (l * 2 + c) * n_kv_heads + h and B = block_tokens, D = head_dim:
//   values at  i * B * D * value_bytes:
//     K: [D, B] (transposed: position p of the block is column p)
//     V: [B, D] (row-major)
//   scales (int8 only) at  2 * L * H * B * D + i * B * 2:  [B] f16
// Positions [b * B, (b + 1) * B) of the sequence live in block b.
struct KvLayout {
  KvType type = KvType::kF32;
  int64_t n_layers = 0;
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t block_tokens = kKvBlockTokens;

  int value_bytes() const { return Traits(type).value_bytes; }
  bool scaled() const { return Traits(type).scaled; }
  // K and V of one token over all layers and kv heads:
  //   2 * n_layers * n_kv_heads * (head_dim * value_bytes + (scaled ? 2 : 0)).
  uint64_t BytesPerToken() const {
    return 2 * static_cast<uint64_t>(n_layers * n_kv_heads) *
           (head_dim * value_bytes() + (scaled() ? 2 : 0));
  }
  uint64_t BlockBytes() const { return BytesPerToken() * block_tokens; }
  int64_t BlocksFor(int64_t positions) const {
    return (positions + block_tokens - 1) / block_tokens;
  }
  // What the runtime holds for `positions` positions: whole blocks.
  uint64_t BytesFor(int64_t positions) const { return BlocksFor(positions) * BlockBytes(); }
  // Offsets inside a block (bytes); kind 0 = K, 1 = V.
  uint64_t ValuesOffset(int64_t layer, int kind, int64_t head) const {
    return static_cast<uint64_t>(((layer * 2 + kind) * n_kv_heads + head) * block_tokens *
                                 head_dim * value_bytes());
  }
  uint64_t ScalesOffset(int64_t layer, int kind, int64_t head) const {
    return static_cast<uint64_t>(2 * n_layers * n_kv_heads * block_tokens * head_dim *
                                 value_bytes()) +
           static_cast<uint64_t>(((layer * 2 + kind) * n_kv_heads + head) * block_tokens * 2);
  }
};

// The layout of `hparams`' cache in `type`. Error (naming the field) for a
// non-positive size or a block size that is not a positive multiple of 64.
absl::StatusOr<KvLayout> MakeKvLayout(const pb::HParams& hparams, KvType type,
                                      int64_t block_tokens = kKvBlockTokens);

// The int8 quantizer of specs/vram.md §2 (the scalar reference every backend
// matches): scale = f16(max|x| / 127); q[i] = round(x[i] / scale) clamped to
// [-127, 127] (round half away from zero); an all-zero vector gets scale 0
// and q = 0. Dequantized value: q[i] * scale.
void QuantizeKvInt8(const float* x, int64_t n, int8_t* q, uint16_t* scale_f16);

}  // namespace glmq
