// `glmq plan MODEL --measure`: VRAM measured on a GPU next to the
// prediction (plan/cuda_memory.h) for each context, the difference in %,
// and the verdict (every row within kMeasureTolerancePercent). The
// measuring itself is a VramMeasurer: the CUDA one (plan/measure_cuda.h)
// or, in tests, a fake with synthetic measurements.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "plan/cuda_memory.h"
#include "schema/glmq.pb.h"

namespace glmq::plan {

inline constexpr double kMeasureTolerancePercent = 2.0;
inline constexpr uint32_t kVramSectionVersion = 1;

struct MeasuredDevice {
  std::string card;          // "NVIDIA H100 80GB HBM3"
  std::string driver;        // "580.159.04"
  std::string cuda_version;  // "runtime 13.0, driver API 13.0"
  std::string device;        // "cuda:0"
  std::string method;        // how the bytes were read
  uint64_t total_bytes = 0;
  int64_t sms = kDefaultSms;
};

struct MeasuredPoint {
  uint64_t bytes = 0;         // peak device memory of the process, context included
  bool synthetic_kv = false;  // KV contents synthetic (no full prefill)
};

class VramMeasurer {
 public:
  virtual ~VramMeasurer() = default;
  virtual const MeasuredDevice& device() const = 0;
  // Sets up and runs `run` (CudaRun's description), returns the peak.
  virtual absl::StatusOr<MeasuredPoint> Measure(const CudaRun& run) = 0;
};

struct MeasureRow {
  int64_t context = 0;
  CudaPrediction predicted;
  uint64_t measured = 0;
  double diff_percent = 0;  // 100 (measured - predicted) / predicted
  bool synthetic_kv = false;
  bool within() const;  // |diff_percent| <= kMeasureTolerancePercent
};

struct MeasureReport {
  std::string model;
  MeasuredDevice device;
  std::string kv;  // "bf16", "int8"
  int64_t prefill_chunk = 0;
  bool all_logits = true;
  std::string created_utc, tool_version;
  std::vector<MeasureRow> rows;
  // The predicted total at powers of two between the first and the last
  // context (and at each measured one), for the SVG's curve.
  std::vector<std::pair<int64_t, uint64_t>> curve;
  bool ok() const;  // every row within the tolerance
};

double DiffPercent(uint64_t predicted, uint64_t measured);

// "1K,8K,32K,128K,1M" or plain token counts, each in 1..max_context.
absl::StatusOr<std::vector<int64_t>> ParseContexts(absl::string_view text, int64_t max_context);
// 1K, 8K, 32K, 128K, 1M (those within max_context), and max_context when
// smaller than all of them.
std::vector<int64_t> DefaultMeasureContexts(int64_t max_context);

// For each context: predicts, measures, compares. `base` gives kv,
// prefill_chunk and all_logits; the device's SM count replaces base.sms.
absl::StatusOr<MeasureReport> MeasureVram(const std::string& model, const pb::HParams& hp,
                                          const std::vector<pb::TensorEntry>& tensors,
                                          const CudaRun& base, const std::vector<int64_t>& contexts,
                                          VramMeasurer& measurer);

// MeasureVram on a .glmq: its hparams and tensor entries, `contexts`
// (empty: DefaultMeasureContexts). InvalidArgument for a model that is not
// a .glmq (the run needs its weights).
absl::StatusOr<MeasureReport> MeasureModelVram(const std::string& glmq_path, const CudaRun& base,
                                               std::vector<int64_t> contexts,
                                               VramMeasurer& measurer);

std::string RenderMeasureText(const MeasureReport& r);
std::string RenderMeasureJson(const MeasureReport& r);
std::string RenderMeasureCsv(const MeasureReport& r);
// The predicted curve over the measured contexts with the measured points.
std::string RenderMeasureSvg(const MeasureReport& r);

// The section `--record` stores (schema/glmq.proto VramMeasurement).
pb::VramMeasurement ToVramProto(const MeasureReport& r);

}  // namespace glmq::plan
