// Helpers of the calibration end-to-end tests (calib_e2e_test.cc,
// calib_e2e_slow_test.cc): run the glmq binary, cut fixture text slices,
// convert and calibrate a fixture, KL divergence through `glmq eval kld`.
#pragma once

#include "tests/cli_util.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/json.h"
#include "gtest/gtest.h"

namespace glmq {
namespace calib_e2e {

inline const std::string kShared = std::string(GLMQ_SHARED_DIR);
inline const std::string kModels = kShared + "/fixtures/models/";

inline std::string Dir() {
  static const std::string d = [] {
    std::string p = ::testing::TempDir() + "/calib_e2e_" + std::to_string(::getpid());
    std::filesystem::create_directories(p);
    return p;
  }();
  return d;
}

// Runs the glmq binary; returns the exit code, stdout (+ stderr if
// `with_stderr`) in *out.
inline int Glmq(const std::string& args, std::string* out, bool with_stderr = true) {
  glmq::testing::CliResult r = glmq::testing::RunGlmqCommand(args, with_stderr);
  *out = std::move(r.output);
  return r.exit_code;
}

// The first `bytes` bytes of a fixture text, cut after a blank line.
inline std::string Slice(const std::string& name, size_t skip, size_t bytes) {
  std::ifstream in(kShared + "/fixtures/text/" + name, std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string s = all.substr(std::min(skip, all.size()), bytes);
  const size_t cut = s.rfind("\n\n");
  if (cut != std::string::npos) s.resize(cut + 2);
  const std::string path = Dir() + "/" + name + "." + std::to_string(skip) + ".slice";
  std::ofstream(path, std::ios::binary) << s;
  return path;
}

// bf16 .glmq of a fixture and its statistics on ~200 KB of train.txt
// (16 windows of 128 tokens).
inline std::string Convert(const std::string& model) {
  const std::string path = Dir() + "/" + model + ".glmq";
  std::string out;
  EXPECT_EQ(Glmq("convert " + kModels + model + " -o " + path, &out), 0) << out;
  return path;
}
inline std::string Calibrate(const std::string& model_path, const std::string& name,
                             const std::string& extra_args = "", std::string* log = nullptr) {
  const std::string stats = Dir() + "/" + name + ".stats";
  std::string out;
  EXPECT_EQ(Glmq("calibrate " + model_path + " --text " + Slice("train.txt", 0, 200000) +
                     " --windows 16 --ctx 128 " + extra_args + " -o " + stats, &out),
            0)
      << out;
  if (log != nullptr) *log = out;
  return stats;
}

inline double MeanKl(const std::string& model, const std::string& ref, const std::string& text) {
  std::string out;
  EXPECT_EQ(Glmq("eval kld --model " + model + " --ref " + ref + " --text " + text +
                     " --ctx 256 --max-windows 8 --json", &out, /*with_stderr=*/false),
            0)
      << out;
  auto j = ParseJson(out, "eval kld output");
  EXPECT_TRUE(j.ok()) << out;
  if (!j.ok()) return 1e9;
  EXPECT_FALSE((*j)["model_non_finite"].get<bool>());
  return (*j)["mean_kld"].get<double>();
}

}  // namespace calib_e2e
}  // namespace glmq
