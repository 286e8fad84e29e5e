// Fixture helpers shared by runtime_fixture_test.cc and runtime_fixture_slow_test.cc.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "pipeline/convert.h"
#include "gtest/gtest.h"
#include "runtime/model.h"
#include "runtime/weights.h"
#include "tests/runtime_test_util.h"

namespace glmq {

using testing_util::NpyValues;
using testing_util::ReadNpy;
using testing_util::SharedDir;

// Converts fixture `name` with the convert library into a temporary .glmq,
// maps it and removes the file (the mapping stays valid).
inline std::unique_ptr<Model> LoadFixture(const std::string& name) {
  const std::string dir = std::string(GLMQ_BINARY_DIR) + "/runtime_fixtures";
  std::filesystem::create_directories(dir);
  const std::string path = absl::StrCat(dir, "/", name, ".", ::getpid(), ".glmq");
  ConvertOptions opt;
  opt.hash_sources = false;
  auto st = ConvertHfToGlmq(SharedDir() + "/fixtures/models/" + name, path, opt);
  EXPECT_TRUE(st.ok()) << st.status();
  if (!st.ok()) return nullptr;
  auto src = GlmqWeightSource::Open(path);
  std::filesystem::remove(path);
  EXPECT_TRUE(src.ok()) << src.status();
  if (!src.ok()) return nullptr;
  auto m = Model::Load(std::move(*src));
  EXPECT_TRUE(m.ok()) << m.status();
  return m.ok() ? std::move(*m) : nullptr;
}

inline std::vector<int32_t> ValidTokens() {
  auto npy = ReadNpy(SharedDir() + "/fixtures/reference/valid_tokens.npy");
  EXPECT_TRUE(npy.ok());
  return npy.ok() ? NpyValues<int32_t>(*npy) : std::vector<int32_t>();
}

inline std::string FixtureParamName(const ::testing::TestParamInfo<std::string>& i) {
  std::string s = i.param;
  std::replace(s.begin(), s.end(), '-', '_');
  return s;
}

}  // namespace glmq
