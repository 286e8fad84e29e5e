// Calibration end to end through the glmq binary on the trained fixture
// glm4-tiny-chat (label slow: ~60 s of CPU): `glmq calibrate` on a slice of
// train.txt, `glmq quantize --method rtn|imatrix|awq|gptq` at int4-g128
// (default preset: token_embd and output q8), then every file verifies,
// runs, and each calibrated method's KL divergence vs bf16 on a slice of
// valid.txt is below rtn's. specs/calibration.md.
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
  for (const char* method : {"rtn", "imatrix", "awq", "gptq"}) {
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
  std::printf("mean KL vs bf16 (8 valid windows): rtn %.6g imatrix %.6g awq %.6g gptq %.6g\n",
              kl["rtn"], kl["imatrix"], kl["awq"], kl["gptq"]);
  for (const char* method : {"imatrix", "awq", "gptq"})
    EXPECT_LT(kl[method], kl["rtn"]) << method << " KL " << kl[method] << ", rtn " << kl["rtn"];
  EXPECT_LT(kl["gptq"], 0.8 * kl["rtn"]);
}

}  // namespace
}  // namespace glmq
