// Calibration end to end through the glmq binary on the trained fixtures
// (label slow: ~60 s of CPU each): `glmq calibrate` on a slice of
// train.txt, `glmq quantize --method rtn|imatrix|awq|gptq|awq+gptq` at
// int4-g128 (default preset: token_embd and output q8), then every file
// verifies, runs, and each calibrated method's KL divergence vs bf16 on a
// slice of valid.txt is below rtn's; on glm4-tiny-chat-outlier the
// calibrated methods stay near the gentle fixture's figures.
// specs/calibration.md.
#include <cstdio>
#include <map>
#include <string>

#include "gtest/gtest.h"
#include "tests/calib_e2e_util.h"

namespace glmq {
namespace {

using namespace calib_e2e;  // NOLINT

TEST(CalibE2E, CalibratedMethodsBeatRtnOnKl) {
  const std::string bf16 = Convert("glm4-tiny-chat");
  const std::string stats = Calibrate(bf16, "chat");
  // Evaluation text: valid.txt, never seen by the calibration.
  const std::string valid = Slice("valid.txt", 0, 60000);
  std::map<std::string, double> kl;
  for (const char* method : {"rtn", "imatrix", "awq", "gptq", "awq+gptq"}) {
    const std::string q = Dir() + "/chat-int4-g128-" + method + ".glmq";
    std::string out;
    const std::string calib = std::string(method) == "rtn" ? "" : " --calib " + stats;
    ASSERT_EQ(Glmq("quantize " + bf16 + " -o " + q + " --scheme int4-g128" +
                       " --method " + method + calib, &out),
              0)
        << method << ": " << out;
    ASSERT_EQ(Glmq("verify " + q, &out), 0) << method << ": " << out;
    kl[method] = MeanKl(q, bf16, valid);
    EXPECT_GT(kl[method], 0) << method;
  }
  std::printf(
      "mean KL vs bf16 (8 valid windows): rtn %.6g imatrix %.6g awq %.6g gptq %.6g "
      "awq+gptq %.6g\n",
      kl["rtn"], kl["imatrix"], kl["awq"], kl["gptq"], kl["awq+gptq"]);
  for (const char* method : {"imatrix", "awq", "gptq", "awq+gptq"})
    EXPECT_LT(kl[method], kl["rtn"]) << method << " KL " << kl[method] << ", rtn " << kl["rtn"];
  EXPECT_LT(kl["gptq"], 0.8 * kl["rtn"]);
}

// Quantizes `bf16` with `scheme` / `method` (statistics `stats` unless rtn;
// `no_equalize`: --no-equalize), checks the file, and returns its mean KL vs
// bf16 on `valid`.
double QuantizedKl(const std::string& bf16, const std::string& name, const std::string& scheme,
                   const std::string& method, const std::string& stats, const std::string& valid,
                   bool no_equalize = false) {
  const std::string q = Dir() + "/" + name + "-" + scheme + "-" + method +
                        (no_equalize ? "-noeq" : "") + ".glmq";
  std::string out;
  std::string calib = method == "rtn" ? "" : " --calib " + stats;
  if (no_equalize) calib += " --no-equalize";
  EXPECT_EQ(
      Glmq("quantize " + bf16 + " -o " + q + " --scheme " + scheme + " --method " + method + calib,
           &out),
      0)
      << method << ": " << out;
  EXPECT_EQ(Glmq("verify " + q, &out), 0) << method << ": " << out;
  return MeanKl(q, bf16, valid);
}

// glm4-tiny-chat-outlier (../shared/fixtures/README.md): glm4-tiny-chat with
// activation outliers (4 channels 64x) and weight outliers (columns 16x),
// the same function. rtn loses ~60x in KL; the calibrated methods must not
// (the bounds: recommended int4-g128 <= 0.002, GPTQ <= AWQ, imatrix
// <= 2x AWQ, calibrated int8 <= 0.0001 and within 2x of the gentle
// fixture's int8 rtn).
TEST(CalibE2E, OutlierFixtureCalibratedMethodsKeepQuality) {
  const std::string bf16 = Convert("glm4-tiny-chat-outlier");
  const std::string stats = Calibrate(bf16, "outlier");
  const std::string valid = Slice("valid.txt", 0, 60000);
  std::map<std::string, double> kl;
  for (const char* method : {"rtn", "imatrix", "awq", "gptq", "awq+gptq"})
    kl[method] = QuantizedKl(bf16, "outlier", "int4-g128", method, stats, valid);
  // Textbook GPTQ (no equalisation) misses the target: the fixture bites.
  const double gptq_noeq =
      QuantizedKl(bf16, "outlier", "int4-g128", "gptq", stats, valid, /*no_equalize=*/true);
  std::map<std::string, double> kl8;
  for (const char* method : {"rtn", "imatrix", "awq", "gptq"})
    kl8[method] = QuantizedKl(bf16, "outlier", "int8", method, stats, valid);
  const std::string gentle = Convert("glm4-tiny-chat");
  const double gentle8 = QuantizedKl(gentle, "gentle", "int8", "rtn", "", valid);
  std::printf(
      "outlier int4-g128 mean KL (8 valid windows): rtn %.6g imatrix %.6g awq %.6g "
      "gptq %.6g awq+gptq %.6g gptq --no-equalize %.6g\n",
      kl["rtn"], kl["imatrix"], kl["awq"], kl["gptq"], kl["awq+gptq"], gptq_noeq);
  std::printf(
      "outlier int8: rtn %.6g imatrix %.6g awq %.6g gptq %.6g; glm4-tiny-chat int8 rtn "
      "%.6g\n",
      kl8["rtn"], kl8["imatrix"], kl8["awq"], kl8["gptq"], gentle8);
  EXPECT_GT(kl["rtn"], 0.02);    // the fixture does hurt rtn
  EXPECT_LE(kl["gptq"], 0.002);  // the recommended method
  EXPECT_GT(gptq_noeq, 0.004);   // without equalisation (100 valid windows: 0.0116)
  EXPECT_LE(kl["gptq"], kl["awq"]);
  EXPECT_LE(kl["awq+gptq"], kl["awq"]);
  EXPECT_LE(kl["imatrix"], 2 * kl["awq"]);
  for (const char* method : {"imatrix", "awq", "gptq"}) {
    EXPECT_LE(kl8[method], 0.0001) << method;
    EXPECT_LE(kl8[method], 2 * gentle8) << method;
  }
}

}  // namespace
}  // namespace glmq
