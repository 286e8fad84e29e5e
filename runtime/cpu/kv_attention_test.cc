// The tiled attention over the block KV cache against the plain reference,
// at every SIMD level this CPU has, every KV type, GQA groups of 4, 8 and
// 16, prefill chunks that cross block boundaries and decode steps whose keys
// are split between threads. Budget: 2e-6 absolute on outputs of magnitude
// ~0.1 (weighted means of values in [-1, 1]): f32 reordering over <= 3,000
// keys is ~1e-7; a wrong key, mask or merge moves outputs by ~1e-2. int8
// KV: the 8-bit P V weights (kv_attention.h PWeightsInt8Inv) of a kernel and
// of the reference can round a weight that sits within ~1e-7 of a half step
// to neighbouring integers (a few keys in these cases), each moving one
// output row by up to a step x 127 / (softmax sum), ~4e-4 here; so int8
// outputs must agree to 1e-6 on average and 5e-3 at worst.
#include "runtime/cpu/kv_attention.h"

#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "runtime/attention_tiling.h"

namespace glmq::cpu {
namespace {

std::vector<float> Random(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

// A cache of `positions` positions for one layer, filled with random K, V.
struct TestCache {
  KvLayout layout;
  std::vector<std::vector<uint8_t>> storage;
  std::vector<void*> blocks;
  KvCacheView View() const { return {&layout, blocks.data(), (int64_t)blocks.size(), 1}; }
};

TestCache MakeCache(KvType type, const AttentionShape& s, int64_t positions, uint32_t seed) {
  TestCache c;
  c.layout = KvLayout{type, 2, s.n_kv_heads, s.head_dim};
  for (int64_t b = 0; b < c.layout.BlocksFor(positions); ++b) {
    c.storage.emplace_back(c.layout.BlockBytes(), 0);
    c.blocks.push_back(c.storage.back().data());
  }
  const int64_t kv = s.n_kv_heads * s.head_dim;
  const std::vector<float> rows = Random(positions * 2 * kv, seed);  // [pos, K|V]
  WriteKvRows(rows.data(), rows.data() + kv, 2 * kv, positions, s, 0, c.View());
  return c;
}

struct Case {
  AttentionShape shape;
  int64_t pos0, n_tokens;
  int threads;
};

// Every kernel this CPU can run (GetKvAttention picks one per level).
std::vector<std::pair<const char*, KvAttentionFn>> Kernels() {
  const CpuFeatures& f = GetCpuFeatures();
  std::vector<std::pair<const char*, KvAttentionFn>> out = {
      {"scalar", internal::ScalarKvAttention()}};
  if (f.avx2) out.push_back({"avx2", internal::Avx2KvAttention()});
  if (f.avx2 && f.avx_vnni) out.push_back({"avxvnni", internal::AvxVnniKvAttention()});
  if (f.avx512) out.push_back({"avx512", internal::Avx512KvAttention()});
  if (f.avx512_vnni) out.push_back({"avx512vnni", internal::Avx512VnniKvAttention()});
  return out;
}

TEST(KvAttention, TiledMatchesTheReference) {
  const std::vector<Case> cases = {
      {{8, 2, 32}, 0, 100, 2},     // tiny fixture, first chunk
      {{8, 2, 32}, 300, 37, 2},    // a chunk crossing a block boundary
      {{8, 2, 32}, 700, 1, 2},     // decode below the threading threshold
      {{8, 2, 32}, 2000, 1, 2},    // decode: keys split between 2 threads
      {{32, 4, 128}, 3000, 1, 4},  // glm-4-9b-chat-1m decode split 2 ways per kv head
      {{8, 2, 32}, 1023, 3, 1},    // a few tokens on one thread
      {{32, 4, 128}, 500, 1, 2},   // glm-4-9b-chat-1m decode
      {{32, 4, 128}, 64, 20, 2},   // its prefill
      {{32, 2, 128}, 257, 2, 2},   // glm-4-9b (group 16)
  };
  for (KvType type : {KvType::kF32, KvType::kBF16, KvType::kF16, KvType::kInt8}) {
    for (const Case& c : cases) {
      const int64_t end = c.pos0 + c.n_tokens;
      const TestCache cache = MakeCache(type, c.shape, end, 11);
      const int64_t width = c.shape.n_heads * c.shape.head_dim;
      const std::vector<float> q = Random(c.n_tokens * width, 12);
      std::vector<float> want(c.n_tokens * width);
      KvAttentionReference(q.data(), width, c.n_tokens, c.shape, c.pos0, cache.View(), want.data());
      const AttentionTiling tiling{c.shape.n_heads, c.shape.n_kv_heads, c.shape.head_dim};
      for (const auto& [name, kernel] : Kernels()) {
        SCOPED_TRACE(::testing::Message()
                     << Traits(type).name << " " << name << " heads " << c.shape.n_heads << "/"
                     << c.shape.n_kv_heads << " pos0 " << c.pos0 << " n " << c.n_tokens
                     << " threads " << c.threads);
        std::vector<float> scratch(AttentionScratchFloats(tiling, c.threads), NAN);
        std::vector<float> got(want.size(), NAN);
        kernel(q.data(), width, c.n_tokens, c.shape, c.pos0, cache.View(), scratch.data(),
               got.data(), c.threads);
        float worst = 0.f;
        double sum = 0.0;
        for (size_t i = 0; i < got.size(); ++i) {
          worst = std::max(worst, std::fabs(got[i] - want[i]));
          sum += std::fabs(got[i] - want[i]);
        }
        if (type == KvType::kInt8) {
          EXPECT_LE(sum / got.size(), 1e-6);
          EXPECT_LE(worst, 5e-3f);
        } else {
          EXPECT_LE(worst, 2e-6f);
        }
      }
    }
  }
}

TEST(KvAttention, Int8StaysCloseToF32) {
  const AttentionShape s{8, 2, 32};
  const int64_t pos0 = 400, n = 8, width = 8 * 32;
  const TestCache f32 = MakeCache(KvType::kF32, s, pos0 + n, 5);
  const TestCache i8 = MakeCache(KvType::kInt8, s, pos0 + n, 5);
  const std::vector<float> q = Random(n * width, 6);
  std::vector<float> a(n * width), b(n * width);
  KvAttentionReference(q.data(), width, n, s, pos0, f32.View(), a.data());
  KvAttentionReference(q.data(), width, n, s, pos0, i8.View(), b.data());
  float worst = 0.f;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
  EXPECT_LT(worst, 5e-3f);  // values in [-1, 1]: step 1/127, errors average out
  EXPECT_GT(worst, 0.f);
}

TEST(KvAttention, WriteAndReadBackEveryType) {
  const AttentionShape s{4, 2, 16};
  for (KvType type : {KvType::kF32, KvType::kBF16, KvType::kF16, KvType::kInt8}) {
    const TestCache c = MakeCache(type, s, 300, 3);
    const std::vector<float> rows = Random(300 * 2 * 32, 3);
    const float tol = type == KvType::kF32    ? 0.f
                      : type == KvType::kInt8 ? 1.0f / 254 + 1e-3f
                                              : 4e-3f;
    for (int64_t pos : {0, 255, 256, 299})
      for (int kind = 0; kind < 2; ++kind)
        for (int64_t g = 0; g < 2; ++g)
          for (int64_t d = 0; d < 16; ++d)
            EXPECT_NEAR(KvValue(c.View(), kind, g, pos, d), rows[pos * 64 + kind * 32 + g * 16 + d],
                        tol)
                << Traits(type).name << " pos " << pos;
  }
}

}  // namespace
}  // namespace glmq::cpu
