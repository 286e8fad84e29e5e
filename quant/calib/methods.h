// The calibrated quantization methods behind `glmq quantize --method
// imatrix|awq|gptq --calib stats.bin` as QuantMethod objects
// (quant/method.h). They read calibration statistics and weights through
// callbacks, so this stays pure math; tools/ supplies the file readers.
// specs/calibration.md.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "quant/calib/awq.h"
#include "quant/calib/awq_layer.h"
#include "quant/calib/gptq.h"
#include "schema/input_stats.h"
#include "quant/method.h"
#include "schema/glmq.pb.h"

namespace glmq::calib {

// Statistics of the input of canonical weight `weight` (NotFound if none).
using StatsFn = std::function<absl::StatusOr<std::shared_ptr<const InputStats>>(
    const std::string& weight)>;
// A whole tensor as f32 ([rows, cols] row-major).
using WeightFn = std::function<absl::StatusOr<std::vector<float>>(const std::string& name)>;
// The encoding a tensor will get, or nullopt if it stays unquantized.
using SpecFn = std::function<std::optional<QuantSpec>(const std::string& name)>;

// The AWQ scales of a whole model, searched block by block (the four
// weights of one block in memory at a time) before anything is written.
struct AwqPlan {
  std::map<std::string, TensorFold> folds;     // by canonical tensor name, identities left out
  std::set<std::string> searched;              // the linears whose input scale was searched
  std::vector<BlockScales> blocks;             // per layer (for reports)
  std::vector<float> output_scale;             // output.weight input, or empty
};

// imatrix: rtn's scale search with each element's squared error weighted by
// E[x_j^2] (importance of input channel j) times sqrt(sigma2_row + w^2) when
// `magnitude` (llama.cpp's weighting), else by E[x_j^2] alone. With `plan`
// (BuildAwqPlan with AwqOptions::diagonal: per-channel scales searched on
// E[x_j^2] alone), the scales are folded into the neighbouring tensors
// first (TransformRows) and the importance is that of the scaled input,
// E[x_j^2] / s_j^2: the only way a per-group scale can serve a column whose
// weights are 64x smaller than its group's (specs/calibration.md).
// The plan options of imatrix's equalisation: `base` with diagonal = true
// (the loss from E[x_j^2] alone), min_gain = 0.25 and act_block = 32
// (AwqOptions).
AwqOptions ImatrixPlanOptions(AwqOptions base);
std::unique_ptr<QuantMethod> MakeImatrixMethod(StatsFn stats, int search_grid = -1,
                                               bool magnitude = true,
                                               std::shared_ptr<const AwqPlan> plan = nullptr,
                                               const AwqOptions& plan_options = {});

// GPTQ with H = 2 X^T X / n from the statistics (needs X^T X). With `plan`
// (imatrix's equalisation, ImatrixPlanOptions), its scales are folded into
// the neighbouring tensors first (TransformRows) and GPTQ runs on the folded
// weights with the Hessian of the scaled input, H_ij / (s_i s_j).
std::unique_ptr<QuantMethod> MakeGptqMethod(StatsFn stats, GptqOptions options,
                                            std::shared_ptr<const AwqPlan> plan = nullptr,
                                            const AwqOptions& plan_options = {});
// "awq+gptq": the same with AWQ's plan (BuildAwqPlan with AWQ's options:
// every input scaled, the loss from E[x x^T] or the sample).
std::unique_ptr<QuantMethod> MakeAwqGptqMethod(StatsFn stats, GptqOptions options,
                                               std::shared_ptr<const AwqPlan> plan,
                                               const AwqOptions& plan_options);

absl::StatusOr<AwqPlan> BuildAwqPlan(const pb::HParams& hp, const WeightFn& weights,
                                     const StatsFn& stats, const SpecFn& spec,
                                     const AwqOptions& options,
                                     const std::function<void(int)>& on_layer = {});

// The activation model of an input: the whole E[x x^T] from X^T X when
// present and the input has no more channels than the row sample (exact and
// cheap), else the row sample plus, with X^T X and group > 0, E[x x^T]'s
// diagonal blocks of `group` channels (exact group errors; cols * group
// doubles instead of cols^2). Error when neither is there.
absl::StatusOr<ActivationModel> ActivationModelFor(const InputStats& s, int64_t group = 0);

// AWQ quantization: the tool applies plan.folds to every tensor it writes
// (TransformRows); quantized tensors then get the per-group clip search on
// the scaled input and plain RTN.
class AwqMethod : public QuantMethod {
 public:
  AwqMethod(AwqPlan plan, StatsFn stats, AwqOptions options)
      : plan_(std::move(plan)), stats_(std::move(stats)), options_(options) {}
  absl::string_view name() const override { return "awq"; }
  // The fold of `name`, or nullptr if AWQ leaves it unchanged.
  const TensorFold* FoldFor(const std::string& name) const;
  // Applies the fold to elements/rows [row_begin, row_begin + n_rows) of a
  // tensor: 1-D tensors (norms, biases) are n_rows values with cols = 1.
  void TransformRows(const std::string& name, float* w, int64_t row_begin, int64_t n_rows,
                     int64_t cols) const;
  absl::Status BeginTensor(const TensorQuantJob& job) override;
  absl::Status QuantizeRows(const TensorQuantJob& job, const float* w, int64_t row_begin,
                            int64_t n_rows, uint8_t* out, QuantStats* stats) override;
  void Describe(pb::CalibrationInfo* info) const override;

 private:
  AwqPlan plan_;
  StatsFn stats_;
  AwqOptions options_;
  std::optional<ActivationModel> act_;  // of the current tensor's scaled input
};

// Fills *stats from w and its encoding in out (dequantized).
absl::Status AddQuantStats(const float* w, int64_t rows, int64_t cols, const QuantSpec& spec,
                           const uint8_t* out, QuantStats* stats);

}  // namespace glmq::calib
