// plan --measure on a GPU (label cuda; skips without a device): the bundled
// glm4-tiny-chat at two context lengths, every row within 2 % of the
// prediction, and the table recorded into the file and shown by inspect.
#include <unistd.h>

#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "format/reader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "plan/measure.h"
#include "plan/measure_cuda.h"
#include "runtime/cuda/cuda_backend.h"
#include "tests/cli_util.h"

namespace glmq {
namespace {

using ::glmq::testing::RunGlmq;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

const std::string kFixture = std::string(GLMQ_SOURCE_DIR) + "/testdata/models/glm4-tiny-chat";

TEST(PlanMeasureCuda, TinyModelWithinTwoPercent) {
  if (CudaDeviceCount() == 0) {
    GTEST_SKIP() << "no CUDA device present: the `cuda` tests run on a GPU machine "
                    "(bench/cuda_check.sh)";
  }
  const fs::path dir = fs::temp_directory_path() / absl::StrCat("glmq_measure_", ::getpid());
  fs::create_directories(dir);
  const std::string model = (dir / "tiny.glmq").string();
  const auto c = RunGlmq(absl::StrCat("convert ", kFixture, " -o ", model));
  ASSERT_EQ(c.exit_code, 0) << c.output;
  for (const char* kv : {"bf16", "int8"}) {
    plan::CudaRun run;
    run.prefill_chunk = 256;
    run.kv = *ParseKvType(kv);
    auto m = plan::MakeCudaMeasurer(model, 0);
    ASSERT_TRUE(m.ok()) << m.status();
    auto r = plan::MeasureModelVram(model, run, {1024, 8192}, **m);
    ASSERT_TRUE(r.ok()) << r.status();
    std::printf("%s", plan::RenderMeasureText(*r).c_str());
    EXPECT_TRUE(r->ok()) << kv;
  }
  const auto rec = RunGlmq("plan " + model + " --measure --contexts 1K,8K --record");
  EXPECT_EQ(rec.exit_code, 0) << rec.output;
  const auto inspect = RunGlmq("inspect " + model);
  EXPECT_THAT(inspect.output, HasSubstr("vram       v1 measured on"));
  EXPECT_EQ(RunGlmq("verify " + model).exit_code, 0);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace glmq
