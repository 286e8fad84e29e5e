#include "plan/measure.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/status.h"
#include "core/version.h"
#include "format/reader.h"

namespace glmq::plan {

bool MeasureRow::within() const { return std::fabs(diff_percent) <= kMeasureTolerancePercent; }

bool MeasureReport::ok() const {
  return std::all_of(rows.begin(), rows.end(), [](const MeasureRow& r) { return r.within(); });
}

double DiffPercent(uint64_t predicted, uint64_t measured) {
  if (predicted == 0) return measured == 0 ? 0.0 : 100.0;
  return 100.0 * (static_cast<double>(measured) - static_cast<double>(predicted)) /
         static_cast<double>(predicted);
}

absl::StatusOr<std::vector<int64_t>> ParseContexts(absl::string_view text, int64_t max_context) {
  std::vector<int64_t> out;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    std::string s = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(part));
    int64_t scale = 1;
    if (!s.empty() && (s.back() == 'K' || s.back() == 'M')) {
      scale = s.back() == 'K' ? 1024 : 1024 * 1024;
      s.pop_back();
    }
    int64_t v = 0;
    if (!absl::SimpleAtoi(s, &v) || v <= 0 || v > max_context / scale)
      return absl::InvalidArgumentError(absl::StrCat("--contexts: '", part,
                                                     "' is not a context in 1..", max_context,
                                                     " (tokens, or with K / M)"));
    out.push_back(v * scale);
  }
  if (out.empty()) return absl::InvalidArgumentError("--contexts: no context given");
  return out;
}

std::vector<int64_t> DefaultMeasureContexts(int64_t max_context) {
  std::vector<int64_t> out;
  for (int64_t c : {int64_t{1} << 10, int64_t{8} << 10, int64_t{32} << 10, int64_t{128} << 10,
                    int64_t{1} << 20})
    if (c <= max_context) out.push_back(c);
  if (out.empty()) out.push_back(max_context);
  return out;
}

namespace {

// Powers of two from the first to the last context, plus the contexts.
std::vector<int64_t> CurveContexts(const std::vector<int64_t>& contexts) {
  const auto [lo, hi] = std::minmax_element(contexts.begin(), contexts.end());
  std::vector<int64_t> out(contexts);
  for (int64_t c = 1; c <= *hi; c *= 2)
    if (c >= *lo) out.push_back(c);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace

absl::StatusOr<MeasureReport> MeasureVram(const std::string& model, const pb::HParams& hp,
                                          const std::vector<pb::TensorEntry>& tensors,
                                          const CudaRun& base, const std::vector<int64_t>& contexts,
                                          VramMeasurer& measurer) {
  if (contexts.empty()) return absl::InvalidArgumentError("--measure: no context to measure");
  MeasureReport r;
  r.model = model;
  r.device = measurer.device();
  r.kv = std::string(Traits(base.kv).name);
  r.prefill_chunk = base.prefill_chunk;
  r.all_logits = base.all_logits;
  r.created_utc = UtcNowRfc3339();
  r.tool_version = GlmqToolVersion();
  CudaRun run = base;
  run.sms = r.device.sms > 0 ? r.device.sms : kDefaultSms;
  for (int64_t c : CurveContexts(contexts)) {
    run.context = c;
    GLMQ_ASSIGN_OR_RETURN(const CudaPrediction p, PredictCudaRun(hp, tensors, run));
    r.curve.push_back({c, p.total()});
  }
  for (int64_t c : contexts) {
    run.context = c;
    MeasureRow row;
    row.context = c;
    GLMQ_ASSIGN_OR_RETURN(row.predicted, PredictCudaRun(hp, tensors, run));
    const absl::StatusOr<MeasuredPoint> m = measurer.Measure(run);
    if (!m.ok()) return Annotate(m.status(), absl::StrCat("measuring context ", c));
    row.measured = m->bytes;
    row.synthetic_kv = m->synthetic_kv;
    row.diff_percent = DiffPercent(row.predicted.total(), m->bytes);
    r.rows.push_back(std::move(row));
  }
  return r;
}

absl::StatusOr<MeasureReport> MeasureModelVram(const std::string& glmq_path, const CudaRun& base,
                                               std::vector<int64_t> contexts,
                                               VramMeasurer& measurer) {
  absl::StatusOr<std::unique_ptr<GlmqFile>> file = GlmqFile::Open(glmq_path);
  if (!file.ok())
    return absl::InvalidArgumentError(absl::StrCat(
        "--measure runs the model, so MODEL must be a .glmq file: ", file.status().message()));
  const pb::ModelMetadata& m = (*file)->metadata();
  if (contexts.empty()) contexts = DefaultMeasureContexts(m.hparams().max_context());
  const std::vector<pb::TensorEntry> tensors(m.tensors().begin(), m.tensors().end());
  return MeasureVram(glmq_path, m.hparams(), tensors, base, contexts, measurer);
}

pb::VramMeasurement ToVramProto(const MeasureReport& r) {
  pb::VramMeasurement v;
  v.set_version(kVramSectionVersion);
  v.set_card(r.device.card);
  v.set_driver(r.device.driver);
  v.set_cuda_version(r.device.cuda_version);
  v.set_created_utc(r.created_utc);
  v.set_tool_version(r.tool_version);
  v.set_kv_type(r.kv);
  v.set_prefill_chunk(r.prefill_chunk);
  v.set_method(r.device.method);
  v.set_card_total_bytes(r.device.total_bytes);
  for (const MeasureRow& m : r.rows) {
    pb::VramRow* row = v.add_rows();
    row->set_context(m.context);
    row->set_predicted_bytes(m.predicted.total());
    row->set_measured_bytes(m.measured);
    row->set_diff_percent(m.diff_percent);
    row->set_synthetic_kv(m.synthetic_kv);
  }
  return v;
}

}  // namespace glmq::plan
