// plan --measure without a GPU: the prediction of a CUDA run term by term,
// the comparison and verdict on synthetic measurements (a fake measurer),
// the contexts flag, the recorded section, and the CUDA measurer's error
// on a machine without a device.
#include "plan/measure.h"

#include <map>

#include "core/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "plan/cuda_memory.h"
#include "plan/measure_cuda.h"
#include "plan/memory.h"
#include "plan/source.h"
#include "runtime/cuda/cuda_backend.h"
#include "runtime/cuda/device_memory.h"
#include "schema/tensors.h"

namespace glmq::plan {
namespace {

using ::testing::HasSubstr;

const std::string kConfigs = std::string(GLMQ_SHARED_DIR) + "/reference/configs/";

pb::HParams Glm4_9b() {
  absl::StatusOr<PlanSource> s = LoadPlanSource(kConfigs + "glm-4-9b-chat.json");
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? s->hparams : pb::HParams();
}

// Measures the prediction times (1 + error[context] / 100).
class FakeMeasurer : public VramMeasurer {
 public:
  FakeMeasurer(pb::HParams hp, std::vector<pb::TensorEntry> t, std::map<int64_t, double> error)
      : hp_(std::move(hp)), tensors_(std::move(t)), error_(std::move(error)) {
    device_.card = "Fake GPU";
    device_.driver = "1.0";
    device_.device = "cuda:0";
    device_.sms = 100;
    device_.method = "fake";
  }
  const MeasuredDevice& device() const override { return device_; }
  absl::StatusOr<MeasuredPoint> Measure(const CudaRun& run) override {
    EXPECT_EQ(run.sms, 100);  // the device's SM count reaches the prediction
    GLMQ_ASSIGN_OR_RETURN(const CudaPrediction p, PredictCudaRun(hp_, tensors_, run));
    MeasuredPoint m;
    m.bytes = static_cast<uint64_t>(p.total() * (1 + error_[run.context] / 100));
    m.synthetic_kv = run.context > 4096;
    return m;
  }

 private:
  pb::HParams hp_;
  std::vector<pb::TensorEntry> tensors_;
  std::map<int64_t, double> error_;
  MeasuredDevice device_;
};

TEST(PlanMeasure, ParseContexts) {
  auto c = ParseContexts("1K, 8k,32768,1M", 1 << 20);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(*c, (std::vector<int64_t>{1024, 8192, 32768, 1 << 20}));
  EXPECT_FALSE(ParseContexts("256K", 131072).ok());
  EXPECT_FALSE(ParseContexts("0", 8192).ok());
  EXPECT_FALSE(ParseContexts("x", 8192).ok());
  EXPECT_FALSE(ParseContexts("", 8192).ok());
  EXPECT_EQ(DefaultMeasureContexts(131072), (std::vector<int64_t>{1024, 8192, 32768, 131072}));
  EXPECT_EQ(DefaultMeasureContexts(512), (std::vector<int64_t>{512}));
}

TEST(PlanMeasure, PredictionCountsEveryRuntimeTerm) {
  const pb::HParams hp = Glm4_9b();
  CudaRun run;
  run.context = 32768;
  run.prefill_chunk = 512;
  for (const char* scheme : {"bf16", "int8", "int4-g128"}) {
    auto t = SchemeTensorEntries(hp, scheme);
    ASSERT_TRUE(t.ok()) << t.status();
    auto p = PredictCudaRun(hp, *t, run);
    ASSERT_TRUE(p.ok()) << p.status();
    std::map<std::string, CudaTerm> terms;
    for (const CudaTerm& x : p->terms) terms[x.name] = x;
    for (const char* name : {"weights", "norm_bias_f32", "kv_cache", "working_buffers",
                             "backend_scratch", "cuda_context"})
      EXPECT_TRUE(terms.count(name)) << scheme << " " << name;
    // KV: 128 blocks of 256 positions x 40,960 bytes (10 MiB, whole pages).
    EXPECT_EQ(terms["kv_cache"].requested, 32768u * 40960);
    EXPECT_EQ(terms["kv_cache"].device, 32768u * 40960);
    // Every term is at least what is asked for; rounding adds < 2 MiB per allocation.
    for (const CudaTerm& x : p->terms) EXPECT_GE(x.device, x.requested) << x.name;
    // Buffers as the session sizes them.
    PlanOptions o;
    o.prefill_chunk = 512;
    auto b = WorkingBuffers(hp, o, 32768);
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(terms["working_buffers"].requested, SumBytes(*b)) << scheme;
    EXPECT_EQ(terms["cuda_context"].device, kCudaContextBytes);
  }
  // int8 KV blocks of 256 x 20,800 bytes (5.08 MiB) take 6 MiB each.
  run.kv = KvType::kInt8;
  auto t = SchemeTensorEntries(hp, "int4-g128");
  auto p = PredictCudaRun(hp, *t, run);
  ASSERT_TRUE(p.ok());
  for (const CudaTerm& x : p->terms)
    if (x.name == "kv_cache") {
      EXPECT_EQ(x.requested, 128u * 256 * 20800);
      EXPECT_EQ(x.device, 128u * (6u << 20));
    }
}

// A file quantized with --keep-outliers: each kept linear carries f16
// kept_cols [rows, n] + i32 kept_idx [n] (counted with the weights and
// vectors), and the backend's slots 5 and 6 grow to the largest linear's
// split input and kept product at the prefill chunk.
TEST(PlanMeasure, KeptColumnsAddTheirScratch) {
  const pb::HParams hp = Glm4_9b();
  CudaRun run;
  run.context = 4096;
  run.prefill_chunk = 512;
  auto plain = SchemeTensorEntries(hp, "int4-g128");
  ASSERT_TRUE(plain.ok()) << plain.status();
  std::vector<pb::TensorEntry> kept;
  constexpr int64_t kN = 32;
  for (const pb::TensorEntry& e : *plain) {
    kept.push_back(e);
    if (e.layer() != 0 || e.shape_size() != 2 ||
        (e.role() != pb::ROLE_ATTN_QKV && e.role() != pb::ROLE_FFN_DOWN))
      continue;
    pb::TensorEntry cols;
    cols.set_name(CompanionName(e.name(), pb::ROLE_KEPT_COLS));
    cols.set_role(pb::ROLE_KEPT_COLS);
    cols.set_layer(0);
    cols.set_encoding(pb::ENCODING_F16);
    cols.add_shape(e.shape(0));
    cols.add_shape(kN);
    kept.push_back(cols);
  }
  ASSERT_EQ(kept.size(), plain->size() + 2);
  auto a = PredictCudaRun(hp, *plain, run), b = PredictCudaRun(hp, kept, run);
  ASSERT_TRUE(a.ok() && b.ok());
  auto term = [](const CudaPrediction& p, const std::string& name) {
    for (const CudaTerm& t : p.terms)
      if (t.name == name) return t;
    return CudaTerm{};
  };
  // ffn_down [4096, 13696] has the widest input, attn_qkv [4608, 4096] the most rows.
  const uint64_t split = cuda::KeptSplitBytes(512, 13696, kN);
  const uint64_t product = cuda::KeptProductBytes(512, 4608);
  EXPECT_EQ(split, (512u * 13696 + 512u * kN) * 4);
  EXPECT_EQ(term(*b, "backend_scratch").requested,
            term(*a, "backend_scratch").requested + split + product);
  const uint64_t f16 = 2u * kN * (4608 + 4096);
  EXPECT_GE(term(*b, "weights").requested, term(*a, "weights").requested + f16);
}

TEST(PlanMeasure, VerdictOnSyntheticMeasurements) {
  const pb::HParams hp = Glm4_9b();
  auto t = SchemeTensorEntries(hp, "int8");
  ASSERT_TRUE(t.ok());
  CudaRun base;
  base.prefill_chunk = 512;
  {
    FakeMeasurer m(hp, *t, {{1024, 0.5}, {32768, -1.9}});
    auto r = MeasureVram("9b.glmq", hp, *t, base, {1024, 32768}, m);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->rows.size(), 2u);
    EXPECT_NEAR(r->rows[0].diff_percent, 0.5, 1e-6);
    EXPECT_NEAR(r->rows[1].diff_percent, -1.9, 1e-6);
    EXPECT_TRUE(r->ok());
    EXPECT_FALSE(r->rows[0].synthetic_kv);
    EXPECT_TRUE(r->rows[1].synthetic_kv);
    EXPECT_THAT(RenderMeasureText(*r), HasSubstr("all rows within 2 %"));
    EXPECT_THAT(RenderMeasureText(*r), HasSubstr("synthetic KV"));
    EXPECT_THAT(RenderMeasureJson(*r), HasSubstr("\"ok\": true"));
    EXPECT_THAT(RenderMeasureCsv(*r), HasSubstr("32768,"));
    EXPECT_THAT(RenderMeasureSvg(*r), HasSubstr("<circle"));
    const pb::VramMeasurement v = ToVramProto(*r);
    EXPECT_EQ(v.version(), kVramSectionVersion);
    EXPECT_EQ(v.card(), "Fake GPU");
    EXPECT_EQ(v.kv_type(), "bf16");
    ASSERT_EQ(v.rows_size(), 2);
    EXPECT_EQ(v.rows(1).predicted_bytes(), r->rows[1].predicted.total());
    EXPECT_EQ(v.rows(1).measured_bytes(), r->rows[1].measured);
    EXPECT_TRUE(v.rows(1).synthetic_kv());
  }
  for (double bad : {2.5, -3.0}) {
    FakeMeasurer m(hp, *t, {{1024, 0.1}, {8192, bad}});
    auto r = MeasureVram("9b.glmq", hp, *t, base, {1024, 8192}, m);
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->ok()) << bad;
    EXPECT_TRUE(r->rows[0].within());
    EXPECT_FALSE(r->rows[1].within());
    EXPECT_THAT(RenderMeasureText(*r), HasSubstr("OVER THE 2 % BOUND"));
    EXPECT_THAT(RenderMeasureJson(*r), HasSubstr("\"ok\": false"));
  }
  EXPECT_DOUBLE_EQ(DiffPercent(100, 102), 2.0);
  EXPECT_DOUBLE_EQ(DiffPercent(0, 0), 0.0);
}

TEST(PlanMeasure, NoDeviceIsAClearError) {
  if (CudaDeviceCount() > 0) GTEST_SKIP() << "a CUDA device is present";
  auto m = MakeCudaMeasurer("model.glmq", 0);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(m.status().message(), HasSubstr("needs a CUDA device"));
}

}  // namespace
}  // namespace glmq::plan
