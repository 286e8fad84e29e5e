// The vision towers on CUDA against the fixtures' references (img1 of
// glm4v-tiny and glm41v-tiny): the PNG decoded, preprocessed, encoded by the
// tower on the GPU, spliced and run through the text model on the GPU;
// every stage of vision_trace.npz; CUDA vs CPU embeddings. Label `cuda`: the
// device tests skip without a device (bench/cuda_check.sh runs them).
//
// Bounds. The CPU golden tests hold embeddings to 1e-4 and logits to 2e-4
// (f32 everywhere). The CUDA GEMMs of more than kGemvTokens rows (every
// vision matmul, the text prefill) multiply bf16-rounded activations on
// tensor cores with f32 accumulation, so the bounds are widened by what that
// rounding costs: Bf16ActivationsOnCpu measures it with a CPU backend that
// rounds its GEMM inputs to bf16 the same way, and checks it stays within a
// quarter of the CUDA bounds. Measured (glm4v-tiny / glm41v-tiny):
// embeddings 8.6e-4 / 7.5e-4, logits 0.20 / 0.046, mean KL 5.7e-5 / 2.0e-5,
// top-1 31/31 / 28/28; the bounds (4e-3, 0.8, 4e-4, all top-1) leave 4x or
// more for the GPU's other summation orders and its erf/exp.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/dtype.h"
#include "core/status.h"
#include "gtest/gtest.h"
#include "pipeline/convert.h"
#include "runtime/cpu/cpu_backend.h"
#include "runtime/cuda/cuda_backend.h"
#include "runtime/loaded_model.h"
#include "runtime/vision/multimodal.h"
#include "runtime/vision/test_util.h"

namespace glmq {
namespace {

namespace fs = std::filesystem;

const std::string kShared = GLMQ_SHARED_DIR;
const std::string kModels = kShared + "/fixtures/models/";
const std::string kRef = kShared + "/fixtures/reference/";

// The CUDA backend's GEMV/GEMM switch (runtime/cuda/kernels.h kMaxGemvTokens):
// above it activations go to cuBLAS as bf16.
constexpr int64_t kGemvTokens = 8;
// CUDA bounds (see the header comment): embeddings, all logits, mean KL
// over the rows, and each trace stage relative to its largest magnitude.
constexpr double kEmbedBound = 4e-3;
constexpr double kLogitBound = 0.8;
constexpr double kMeanKlBound = 4e-4;
constexpr double kStageBound = 1e-2;

// A CPU backend that rounds GEMM inputs of more than kGemvTokens rows to
// bf16, as the CUDA backend feeds cuBLAS.
class Bf16ActivationsCpuBackend final : public CpuBackend {
 public:
  using CpuBackend::CpuBackend;
  absl::Status MatMul(const WeightView& w, const float* x, int64_t n, float* y) override {
    if (n <= kGemvTokens) return CpuBackend::MatMul(w, x, n, y);
    std::vector<float> r(x, x + n * w.cols);
    for (float& v : r) v = Bf16ToF32(F32ToBf16(v));
    return CpuBackend::MatMul(w, r.data(), n, y);
  }
};

double MaxDiff(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return INFINITY;
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(double{a[i]} - b[i]));
  return m;
}

fs::path TempDir() {
  return fs::temp_directory_path() / absl::StrCat("glmq_vision_cuda_", ::getpid());
}
class RemoveTempDir : public ::testing::Environment {
  void TearDown() override { fs::remove_all(TempDir()); }
};
::testing::Environment* const kRemoveTempDir =
    ::testing::AddGlobalTestEnvironment(new RemoveTempDir);

// The fixture converted once per process.
std::string Converted(const std::string& fixture) {
  static std::map<std::string, std::string> made;
  if (made.count(fixture)) return made[fixture];
  const fs::path dir = TempDir();
  fs::create_directories(dir);
  const std::string path = (dir / (fixture + ".glmq")).string();
  const auto s = ConvertHfToGlmq(kModels + fixture, path, ConvertOptions{});
  EXPECT_TRUE(s.ok()) << s.status();
  return made[fixture] = path;
}

struct Img1Run {
  std::vector<float> embeds;  // [image rows, hidden]
  std::vector<float> logits;  // [sequence rows, padded_vocab]
};

// img1.png through ImageEncoder and the text model, both on `backend`.
absl::StatusOr<Img1Run> RunImg1(const std::string& fixture, std::unique_ptr<Backend> backend) {
  GLMQ_ASSIGN_OR_RETURN(auto source, GlmqWeightSource::Open(Converted(fixture), true));
  GLMQ_ASSIGN_OR_RETURN(auto model, Model::Load(std::move(source), std::move(backend)));
  GLMQ_ASSIGN_OR_RETURN(auto enc, ImageEncoder::Create(*model));
  GLMQ_ASSIGN_OR_RETURN(ImageEmbeds image, enc->EncodeFile(kRef + fixture + ".img1.png"));
  GLMQ_ASSIGN_OR_RETURN(std::vector<int32_t> ids, ReadNpyI32(kRef + fixture + ".img1.ids.npy"));
  GLMQ_ASSIGN_OR_RETURN(SplicedSequence seq, BuildSequence(model->hparams(), ids, {image}));
  SessionOptions so;
  so.max_context = 64;
  GLMQ_ASSIGN_OR_RETURN(auto session, Session::Create(model.get(), so));
  Img1Run r;
  GLMQ_ASSIGN_OR_RETURN(r.logits, RunSequence(session.get(), seq, ForwardOutput::kAllLogits));
  r.embeds = std::move(image.values);
  return r;
}

struct Parity {
  double embeds = INFINITY;   // max |diff| of the vision embeddings
  double logits = INFINITY;   // max |diff| of all logits
  double mean_kl = INFINITY;  // mean over rows of KL(reference || run)
  int top1 = 0, rows = 0;     // rows whose argmax agrees, of rows
};

// The run against the reference files.
Parity AgainstReference(const std::string& fixture, const Img1Run& r) {
  auto embeds = ReadNpyF32(kRef + fixture + ".img1.vision_embeds.npy");
  auto logits = ReadNpyF32(kRef + fixture + ".img1.logits.npy");
  EXPECT_TRUE(embeds.ok() && logits.ok());
  Parity p;
  if (!embeds.ok() || !logits.ok() || r.logits.size() != logits->data.size()) return p;
  p.embeds = MaxDiff(r.embeds, embeds->data);
  p.logits = MaxDiff(r.logits, logits->data);
  const int64_t vocab = logits->shape.at(1);
  p.rows = static_cast<int>(logits->shape.at(0));
  double kl = 0;
  for (int t = 0; t < p.rows; ++t) {
    const float* a = logits->data.data() + t * vocab;
    const float* b = r.logits.data() + t * vocab;
    const double ma = *std::max_element(a, a + vocab), mb = *std::max_element(b, b + vocab);
    double za = 0, zb = 0;
    for (int64_t i = 0; i < vocab; ++i) za += std::exp(a[i] - ma), zb += std::exp(b[i] - mb);
    for (int64_t i = 0; i < vocab; ++i) {
      const double pa = std::exp(a[i] - ma) / za;
      kl += pa * ((a[i] - ma - std::log(za)) - (b[i] - mb - std::log(zb)));
    }
    p.top1 += std::max_element(a, a + vocab) - a == std::max_element(b, b + vocab) - b;
  }
  p.mean_kl = kl / p.rows;
  return p;
}

void Print(const char* what, const std::string& fixture, const Parity& p) {
  std::printf(
      "%s img1, %s: embeddings max|diff| %.3g; logits max|diff| %.3g, mean KL %.3g, "
      "top-1 %d/%d\n",
      fixture.c_str(), what, p.embeds, p.logits, p.mean_kl, p.top1, p.rows);
}

void ExpectWithin(const Parity& p, double slack) {
  EXPECT_LE(p.embeds, kEmbedBound / slack);
  EXPECT_LE(p.logits, kLogitBound / slack);
  EXPECT_LE(p.mean_kl, kMeanKlBound / slack);
  EXPECT_EQ(p.top1, p.rows);
}

bool HaveDevice() { return CudaDeviceCount() > 0; }
constexpr char kSkip[] =
    "no CUDA device present: the `cuda` tests run on a GPU machine "
    "(bench/cuda_check.sh)";

class VisionCuda : public ::testing::TestWithParam<const char*> {};

TEST_P(VisionCuda, Bf16ActivationsOnCpu) {
  auto r = RunImg1(GetParam(), std::make_unique<Bf16ActivationsCpuBackend>(2));
  ASSERT_TRUE(r.ok()) << r.status();
  const Parity p = AgainstReference(GetParam(), *r);
  Print("CPU with bf16 GEMM inputs", GetParam(), p);
  ExpectWithin(p, 4);  // the CUDA bounds keep 4x room over this
}

TEST_P(VisionCuda, EmbeddingsAndLogitsMatchTheReference) {
  if (!HaveDevice()) GTEST_SKIP() << kSkip;
  auto gpu = MakeCudaBackend(0);
  ASSERT_TRUE(gpu.ok()) << gpu.status();
  auto r = RunImg1(GetParam(), std::move(*gpu));
  ASSERT_TRUE(r.ok()) << r.status();
  const Parity p = AgainstReference(GetParam(), *r);
  Print("cuda", GetParam(), p);
  ExpectWithin(p, 1);
  auto cpu = RunImg1(GetParam(), std::make_unique<CpuBackend>(2));
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  const double vs_cpu = MaxDiff(r->embeds, cpu->embeds);
  std::printf("%s img1 cuda: embeddings vs the CPU tower max|diff| %.3g\n", GetParam(), vs_cpu);
  EXPECT_LE(vs_cpu, kEmbedBound);
}

// Every stage of the trace from the reference's pixel tensor: where a
// failure starts.
TEST_P(VisionCuda, TraceStagesMatchTheReference) {
  if (!HaveDevice()) GTEST_SKIP() << kSkip;
  auto gpu = MakeCudaBackend(0);
  ASSERT_TRUE(gpu.ok()) << gpu.status();
  auto source = GlmqWeightSource::Open(Converted(GetParam()), true);
  ASSERT_TRUE(source.ok()) << source.status();
  auto model = Model::Load(std::move(*source), std::move(*gpu));
  ASSERT_TRUE(model.ok()) << model.status();
  auto config = VisionConfigFromHParams((*model)->hparams());
  ASSERT_TRUE(config.ok()) << config.status();
  auto tower = VisionTower::Load((*model)->source(), *config, &(*model)->backend());
  ASSERT_TRUE(tower.ok()) << tower.status();
  auto pixels = ReadNpyF32(kRef + GetParam() + ".img1.pixel_values.npy");
  ASSERT_TRUE(pixels.ok()) << pixels.status();
  std::map<std::string, std::vector<float>> stages;
  auto trace = [&](absl::string_view stage, const float* d, int64_t rows, int64_t cols) {
    stages[std::string(stage)].assign(d, d + rows * cols);
  };
  const absl::StatusOr<std::vector<float>> out =
      config->layout == pb::LAYOUT_CHATGLM_VISION
          ? (*tower)->EncodeImage(pixels->data, pixels->shape.at(2), pixels->shape.at(3), trace)
          : (*tower)->EncodePatches(pixels->data, PatchGrid{1, 6, 8}, trace);  // grid [1, 6, 8]
  ASSERT_TRUE(out.ok()) << out.status();
  auto ref = vision_test::ReadNpzF32(kRef + GetParam() + ".img1.vision_trace.npz");
  ASSERT_TRUE(ref.ok()) << ref.status();
  for (const auto& [stage, want] : *ref) {
    ASSERT_TRUE(stages.count(stage)) << "no stage '" << stage << "'";
    double absmax = 0;
    for (float v : want.data) absmax = std::max(absmax, std::fabs(double{v}));
    const double diff = MaxDiff(stages[stage], want.data);
    std::printf("%s cuda %-24s max|diff| %.3g (absmax %.3g)\n", GetParam(), stage.c_str(), diff,
                absmax);
    EXPECT_LE(diff, kStageBound * std::max(1.0, absmax)) << stage;
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, VisionCuda, ::testing::Values("glm4v-tiny", "glm41v-tiny"),
                         [](const auto& info) {
                           return std::string(info.param) == "glm4v-tiny" ? "Glm4v" : "Glm41v";
                         });

}  // namespace
}  // namespace glmq
