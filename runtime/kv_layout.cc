#include "runtime/kv_layout.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/dtype.h"

namespace glmq {

const std::vector<KvTypeTraits>& AllKvTypeTraits() {
  static const std::vector<KvTypeTraits> table = {
      {KvType::kF32, "f32", 4, false},
      {KvType::kF16, "f16", 2, false},
      {KvType::kBF16, "bf16", 2, false},
      {KvType::kInt8, "int8", 1, true},
  };
  return table;
}

const KvTypeTraits& Traits(KvType type) { return AllKvTypeTraits()[static_cast<size_t>(type)]; }

absl::StatusOr<KvType> ParseKvType(absl::string_view name) {
  std::vector<std::string> names;
  for (const KvTypeTraits& t : AllKvTypeTraits()) {
    if (t.name == name) return t.type;
    names.emplace_back(t.name);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("KV type '", name, "' is not one of ", absl::StrJoin(names, ", ")));
}

absl::StatusOr<KvLayout> MakeKvLayout(const pb::HParams& hp, KvType type, int64_t block_tokens) {
  struct Field {
    const char* name;
    int64_t value;
  };
  for (const Field& f :
       {Field{"hparams.n_layers", hp.n_layers()}, Field{"hparams.n_kv_heads", hp.n_kv_heads()},
        Field{"hparams.head_dim", hp.head_dim()}}) {
    if (f.value <= 0)
      return absl::InvalidArgumentError(
          absl::StrCat("KV layout: ", f.name, " is ", f.value, ", must be positive"));
  }
  if (block_tokens <= 0 || block_tokens % 64 != 0)
    return absl::InvalidArgumentError(
        absl::StrCat("KV layout: block of ", block_tokens, " positions (a multiple of 64)"));
  KvLayout l;
  l.type = type;
  l.n_layers = hp.n_layers();
  l.n_kv_heads = hp.n_kv_heads();
  l.head_dim = hp.head_dim();
  l.block_tokens = block_tokens;
  return l;
}

void QuantizeKvInt8(const float* x, int64_t n, int8_t* q, uint16_t* scale_f16) {
  float amax = 0.f;
  for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
  // f16's largest finite value: K/V vectors never reach 127 * 65504, but a
  // saturated scale is still finite.
  const uint16_t s16 = F32ToF16(std::min(amax / 127.0f, 65504.0f));
  const float scale = F16ToF32(s16);
  *scale_f16 = s16;
  for (int64_t i = 0; i < n; ++i) {
    const float v = scale > 0.f ? std::round(x[i] / scale) : 0.f;
    // (NaN stores as 0: a cast of NaN to int8 is undefined.)
    q[i] = static_cast<int8_t>(v >= 127.0f ? 127.0f : v <= -127.0f ? -127.0f : v == v ? v : 0.f);
  }
}

}  // namespace glmq
