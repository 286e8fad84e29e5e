// The long-context references (../shared/fixtures/reference/long/, README
// there): one 32,768-token sequence of valid.txt and the oracle's logits at
// rows 1023 / 4095 / 16383 and 32512..32767 for glm4-tiny-chat-1m (RoPE base
// 1e8) and glm4-tiny-chat (5e6).
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/json.h"
#include "tests/runtime_fixture_util.h"

namespace glmq {

struct LongReference {
  std::vector<int32_t> ids;        // [32768]
  std::vector<float> logits_at;    // [3, vocab]: rows 1023, 4095, 16383
  std::vector<float> logits_last;  // [256, vocab]: rows 32512..32767
  double mean_nll_last1024 = 0;    // rows 31743..32766
};

inline constexpr int64_t kLongTokens = 32768;
inline constexpr int64_t kLongRowsAt[3] = {1023, 4095, 16383};

inline LongReference LoadLongReference(const std::string& model) {
  const std::string dir = SharedDir() + "/fixtures/reference/long/";
  LongReference r;
  auto ids = ReadNpy(dir + "ids.npy");
  auto at = ReadNpy(dir + model + ".logits_at.npy");
  auto last = ReadNpy(dir + model + ".logits_last256.npy");
  auto manifest = ReadJsonFile(dir + "manifest.json");
  EXPECT_TRUE(ids.ok() && at.ok() && last.ok() && manifest.ok()) << model;
  if (!ids.ok() || !at.ok() || !last.ok() || !manifest.ok()) return r;
  r.ids = NpyValues<int32_t>(*ids);
  r.logits_at = NpyValues<float>(*at);
  r.logits_last = NpyValues<float>(*last);
  r.mean_nll_last1024 = (*manifest)["models"][model]["mean_nll_last1024"].get<double>();
  return r;
}

inline float MaxAbsDiff(const float* a, const float* b, int64_t n) {
  float worst = 0.f;
  for (int64_t i = 0; i < n; ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
  return worst;
}

}  // namespace glmq
