#include "plan/measure_cuda.h"

#include <algorithm>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "plan/memory.h"
#include "runtime/cuda/cuda_backend.h"
#include "runtime/cuda/nvml_probe.h"
#include "runtime/model.h"
#include "runtime/session.h"
#include "runtime/weights.h"

namespace glmq::plan {
namespace {

class CudaMeasurer final : public VramMeasurer {
 public:
  CudaMeasurer(std::string path, int index, MeasuredDevice device, uint64_t baseline)
      : path_(std::move(path)), index_(index), device_(std::move(device)), baseline_(baseline) {}
  const MeasuredDevice& device() const override { return device_; }
  absl::StatusOr<MeasuredPoint> Measure(const CudaRun& run) override;

 private:
  // Device memory in use now; raises *peak.
  absl::Status Sample(uint64_t* peak) {
    GLMQ_ASSIGN_OR_RETURN(const uint64_t used, CudaUsedBytes(index_));
    *peak = std::max(*peak, used);
    return absl::OkStatus();
  }
  absl::Status Run(const Model& m, const CudaRun& run, uint64_t* peak, bool* synthetic);

  std::string path_;
  int index_;
  MeasuredDevice device_;
  // Bytes in use on the device that are not this process's: NVML's count
  // before the context, else (used just after the context) - allowance.
  uint64_t baseline_;
};

absl::Status CudaMeasurer::Run(const Model& m, const CudaRun& run, uint64_t* peak,
                               bool* synthetic) {
  SessionOptions so;
  so.max_context = run.context;
  so.context_override = true;
  so.prefill_chunk = run.prefill_chunk;
  so.kv_type = run.kv;
  so.all_logits = run.all_logits;
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<Session> s, Session::Create(&m, so));
  GLMQ_RETURN_IF_ERROR(Sample(peak));
  const int64_t n = run.PrefillTokens();
  const int64_t before = run.context - 1 - n;  // positions before the last chunk
  const int32_t vocab = static_cast<int32_t>(std::max<int64_t>(m.hparams().vocab_size(), 2));
  std::mt19937 rng(1);
  std::uniform_int_distribution<int32_t> id(0, vocab - 1);
  auto ids = [&](int64_t k) {
    std::vector<int32_t> v(k);
    for (int32_t& t : v) t = id(rng);
    return v;
  };
  *synthetic = before > kRealPrefillTokens;
  if (*synthetic) {
    GLMQ_RETURN_IF_ERROR(s->AppendSyntheticKv(before, 1));
  } else if (before > 0) {
    GLMQ_RETURN_IF_ERROR(s->Forward(ids(before), ForwardOutput::kNone, nullptr));
  }
  GLMQ_RETURN_IF_ERROR(Sample(peak));
  std::vector<float> logits;
  if (n > 0) {
    GLMQ_RETURN_IF_ERROR(s->Forward(
        ids(n), run.all_logits ? ForwardOutput::kAllLogits : ForwardOutput::kLastLogits, &logits));
    GLMQ_RETURN_IF_ERROR(Sample(peak));
  }
  GLMQ_RETURN_IF_ERROR(s->Forward(ids(1), ForwardOutput::kLastLogits, &logits));
  return Sample(peak);
}

absl::StatusOr<MeasuredPoint> CudaMeasurer::Measure(const CudaRun& run) {
  uint64_t peak = 0;
  bool synthetic = false;
  {
    GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<Backend> backend, MakeCudaBackend(index_));
    GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<GlmqWeightSource> src,
                          GlmqWeightSource::Open(path_, /*verify=*/false));
    GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<Model> model,
                          Model::Load(std::move(src), std::move(backend)));
    GLMQ_RETURN_IF_ERROR(Sample(&peak));
    GLMQ_RETURN_IF_ERROR(Run(*model, run, &peak, &synthetic));
  }
  MeasuredPoint p;
  p.synthetic_kv = synthetic;
  p.bytes = peak > baseline_ ? peak - baseline_ : 0;
  return p;
}

}  // namespace

absl::StatusOr<std::unique_ptr<VramMeasurer>> MakeCudaMeasurer(const std::string& model_path,
                                                               int index) {
  absl::StatusOr<CudaDeviceFacts> facts = DescribeCudaDevice(index);
  if (!facts.ok())
    return absl::FailedPreconditionError(
        absl::StrCat("plan --measure needs a CUDA device: ", facts.status().message()));
  MeasuredDevice d;
  d.card = facts->name;
  d.cuda_version = facts->cuda_version;
  d.device = absl::StrCat("cuda:", index);
  d.total_bytes = facts->total_bytes;
  d.sms = facts->sms;
  uint64_t baseline = 0;
  absl::StatusOr<cuda::NvmlMemory> nvml = cuda::NvmlDeviceMemory(facts->pci_bus_id);
  if (nvml.ok()) {
    baseline = nvml->used;
    d.driver = nvml->driver;
    d.method =
        "peak of cudaMemGetInfo (total - free) after each step, minus NVML's used "
        "bytes before this process's CUDA context (context measured)";
  } else {
    d.driver = "unknown (no NVML)";
    d.method = absl::StrCat(
        "peak of cudaMemGetInfo minus the use just after the CUDA context "
        "was created, plus the ",
        kCudaContextBytes >> 20, " MiB context allowance (", nvml.status().message(),
        "; the context itself is not measured)");
    GLMQ_ASSIGN_OR_RETURN(const uint64_t used, CudaUsedBytes(index));  // creates the context
    baseline = used > kCudaContextBytes ? used - kCudaContextBytes : 0;
  }
  auto m = std::make_unique<CudaMeasurer>(model_path, index, d, baseline);
  return std::unique_ptr<VramMeasurer>(std::move(m));
}

}  // namespace glmq::plan
