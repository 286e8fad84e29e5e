// Full valid-split perplexity of the three fixtures (297 windows of 256
// tokens each) within 0.1% of the reference (../shared/fixtures/reference).
// Labelled slow.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/json.h"
#include "gtest/gtest.h"
#include "runtime/eval.h"
#include "runtime/model.h"
#include "runtime/session.h"
#include "tests/runtime_fixture_util.h"

namespace glmq {
namespace {

class FixtureSlow : public ::testing::TestWithParam<std::string> {};

TEST_P(FixtureSlow, ValidPerplexityWithin0p1PercentOfReference) {
  const std::string name = GetParam();
  const std::vector<int32_t> tokens = ValidTokens();
  std::unique_ptr<Model> model = LoadFixture(name);
  ASSERT_NE(model, nullptr);
  auto session = Session::Create(model.get(), SessionOptions{});
  ASSERT_TRUE(session.ok());
  auto r = Perplexity(**session, tokens, PplOptions{});
  ASSERT_TRUE(r.ok()) << r.status();
  auto refjson = ReadJsonFile(SharedDir() + "/fixtures/reference/reference.json");
  ASSERT_TRUE(refjson.ok());
  const Json& v = (*refjson)["models"][name]["valid"];
  EXPECT_EQ(r->windows, v["windows"].get<int64_t>());
  EXPECT_EQ(r->nll.count, v["scored_tokens"].get<int64_t>());
  const double want = v["ppl"].get<double>();
  EXPECT_NEAR(r->nll.ppl(), want, 1e-3 * want) << name;
  RecordProperty("ppl", std::to_string(r->nll.ppl()));
  std::printf("%s: ppl %.4f (reference %.4f), mean NLL %.6f\n", name.c_str(), r->nll.ppl(), want,
              r->nll.mean());
}

INSTANTIATE_TEST_SUITE_P(Models, FixtureSlow,
                         ::testing::Values("glm4-tiny-chat", "glm4-tiny-chat-hf", "glm4-tiny-0414"),
                         FixtureParamName);

}  // namespace
}  // namespace glmq
