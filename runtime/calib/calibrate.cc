#include "runtime/calib/calibrate.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/checksum.h"
#include "core/dtype.h"
#include "core/file.h"
#include "core/progress.h"
#include "core/status.h"
#include "core/version.h"
#include "format/reader.h"
#include "format/stats_file.h"
#include "runtime/calib/stats.h"
#include "runtime/cpu/cpu_backend.h"
#include "runtime/loaded_model.h"
#include "runtime/model.h"
#include "runtime/session.h"
#include "runtime/tokenizer/tokenizer.h"
#include "runtime/tokenizer_source.h"
#include "runtime/weights.h"
#include "schema/encodings.h"

namespace glmq {
namespace {

// Statistics a pass may hold at once when layers_per_pass is 0: GLM-4-9B
// gets 2 layers per pass (1.8 GiB each), the fixtures all of theirs.
constexpr uint64_t kPassStatsBudget = uint64_t{4} << 30;

// The model's fingerprint (StatsMetadata.weights_xxh64), 0 if the tensor
// is not stored as f32/bf16/f16.
absl::StatusOr<uint64_t> Fingerprint(const WeightSource& src) {
  GLMQ_ASSIGN_OR_RETURN(WeightView t, src.Find(FingerprintWeight()));
  DType dt;
  if (!DenseDType(t.encoding, &dt)) return 0;
  std::vector<float> v(static_cast<size_t>(t.rows * t.cols));
  ConvertToF32(dt, t.data, v.data(), t.rows * t.cols);
  return WeightsFingerprint(v);
}

// Unmaps the pages of text layer `layer`'s tensors: the page cache keeps
// them, but they leave this process's resident set.
void DropLayerPages(const GlmqFile& file, int layer) {
  for (const pb::TensorEntry& e : file.metadata().tensors())
    if (e.layer() == layer && e.role() != pb::ROLE_VISION)
      file.mapped().DropRange(e.offset(), e.size());
}

// "FIRST:END" -> [first, end) within [0, n_layers].
absl::Status ParseLayers(const std::string& s, int n_layers, int* first, int* end) {
  *first = 0;
  *end = n_layers;
  if (s.empty()) return absl::OkStatus();
  if (std::sscanf(s.c_str(), "%d:%d", first, end) != 2 || *first < 0 || *end > n_layers ||
      *first >= *end)
    return absl::InvalidArgumentError(
        absl::StrCat("--layers '", s, "' (want FIRST:END within 0:", n_layers, ")"));
  return absl::OkStatus();
}

// Window starts: `n` windows of `ctx` spread evenly over the text's
// complete windows (all of them when n is 0 or too large).
std::vector<int64_t> WindowStarts(int64_t n_tokens, int64_t ctx, int64_t n) {
  const int64_t total = n_tokens / ctx;
  if (n <= 0 || n > total) n = total;
  std::vector<int64_t> starts;
  for (int64_t i = 0; i < n; ++i) starts.push_back((i * total / n) * ctx);
  return starts;
}

// Everything a run needs, opened and checked before the first pass.
struct Run {
  std::unique_ptr<Model> model;
  const GlmqFile* file = nullptr;  // owned by the model's weight source
  uint64_t model_xxh64 = 0, weights_xxh64 = 0;
  std::string text;
  std::vector<int32_t> ids;
  std::vector<int64_t> starts;
  int first = 0, end = 0, per_pass = 1, passes = 0;
};

absl::StatusOr<Run> Open(const CalibrateOptions& a) {
  Run r;
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<GlmqWeightSource> src, GlmqWeightSource::Open(a.model));
  r.model_xxh64 = src->file().metadata_xxh64();
  GLMQ_ASSIGN_OR_RETURN(r.weights_xxh64, Fingerprint(*src));
  std::unique_ptr<Tokenizer> tok;
  if (a.tokenizer.empty()) {
    GLMQ_ASSIGN_OR_RETURN(tok, LoadEmbeddedTokenizer(src->file()));
  } else {
    GLMQ_ASSIGN_OR_RETURN(tok, LoadTokenizer(a.tokenizer));
  }
  r.file = &src->file();
  GLMQ_ASSIGN_OR_RETURN(r.model,
                        Model::Load(std::move(src), std::make_unique<CpuBackend>(a.threads)));
  GLMQ_ASSIGN_OR_RETURN(r.text, ReadFileToString(a.text));
  r.ids = tok->Encode(r.text, /*allow_special=*/false);
  if (a.ctx <= 1) return absl::InvalidArgumentError(absl::StrCat("--ctx ", a.ctx));
  r.starts = WindowStarts(static_cast<int64_t>(r.ids.size()), a.ctx, a.windows);
  if (r.starts.empty())
    return absl::InvalidArgumentError(absl::StrCat(
        a.text, ": ", r.ids.size(), " tokens, fewer than one window of ", a.ctx));
  const int n_layers = static_cast<int>(r.model->hparams().n_layers());
  GLMQ_RETURN_IF_ERROR(ParseLayers(a.layers, n_layers, &r.first, &r.end));
  r.per_pass = a.layers_per_pass;
  if (r.per_pass <= 0) {
    StatsOptions so;
    so.collect_xtx = !a.no_xtx;
    so.max_samples = a.samples;
    const uint64_t layer = LayerStatsBytes(r.model->hparams(), so);
    r.per_pass = static_cast<int>(std::clamp<uint64_t>(
        kPassStatsBudget / std::max<uint64_t>(layer, 1), 1, static_cast<uint64_t>(r.end - r.first)));
  }
  r.passes = (r.end - r.first + r.per_pass - 1) / r.per_pass;
  return r;
}

void FillMetadata(const CalibrateOptions& a, const Run& r, calib::pb::StatsMetadata* meta) {
  meta->set_model_path(a.model);
  meta->set_model_xxh64(r.model_xxh64);
  meta->set_weights_xxh64(r.weights_xxh64);
  meta->set_first_layer(r.first);
  meta->set_end_layer(r.end);
  meta->set_data_name(std::filesystem::path(a.text).filename().string());
  meta->set_data_xxh64(XxHash64(r.text));
  meta->set_n_windows(static_cast<int64_t>(r.starts.size()));
  meta->set_window(a.ctx);
  meta->set_n_tokens(static_cast<int64_t>(r.starts.size()) * a.ctx);
  meta->set_has_xtx(!a.no_xtx);
  meta->set_max_samples(a.samples);
  meta->set_seed(a.seed);
  meta->set_command_line(a.command_line);
  meta->set_created_utc(UtcNowRfc3339());
}

// Pass p records layers [first_p, end_p): it resumes every window from the
// residual stream where pass p - 1 left it, so the forward pass runs once in
// total, only up to the last recorded layer, and a pass touches only its
// layers' weights.
absl::Status RunPasses(const CalibrateOptions& a, const Run& r, StatsWriter* writer,
                       Progress* progress) {
  const int n_layers = static_cast<int>(r.model->hparams().n_layers());
  SessionOptions sopt;
  sopt.max_context = a.ctx;
  sopt.prefill_chunk = a.ctx;  // one chunk per window
  sopt.all_logits = false;
  std::vector<std::vector<float>> hidden(r.starts.size());  // [windows][ctx, hidden]
  int done = 0;  // layers already run (the forward always starts at layer 0)
  for (int pass = 0; pass < r.passes; ++pass) {
    StatsOptions so;
    so.collect_xtx = !a.no_xtx;
    so.max_samples = a.samples;
    so.seed = a.seed;
    so.first_layer = r.first + pass * r.per_pass;
    so.end_layer = std::min(r.end, r.first + (pass + 1) * r.per_pass);
    so.include_output = pass == r.passes - 1 && r.end == n_layers;
    StatsCollector collector(so);
    sopt.observer = &collector;
    GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<Session> session, Session::Create(r.model.get(), sopt));
    for (size_t w = 0; w < r.starts.size(); ++w) {
      session->Reset();
      GLMQ_RETURN_IF_ERROR(session->ForwardLayers(
          absl::MakeConstSpan(r.ids.data() + r.starts[w], static_cast<size_t>(a.ctx)), done,
          so.end_layer, &hidden[w]));
      progress->Add(absl::StrCat("layers ", so.first_layer, "-", so.end_layer - 1), 1);
    }
    done = so.end_layer;
    for (const InputStats& s : collector.Finish()) GLMQ_RETURN_IF_ERROR(writer->Add(s));
    // No later pass reads these layers again: unmap their pages, so that the
    // process holds about one pass's weights rather than all it has run.
    for (int l = so.first_layer; l < so.end_layer; ++l) DropLayerPages(*r.file, l);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<CalibrateSummary> Calibrate(const CalibrateOptions& a) {
  GLMQ_ASSIGN_OR_RETURN(Run r, Open(a));
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<StatsWriter> writer, StatsWriter::Create(a.output));
  FillMetadata(a, r, &writer->metadata());
  Progress progress("calibrate", static_cast<uint64_t>(r.starts.size()) * r.passes, "windows");
  GLMQ_RETURN_IF_ERROR(RunPasses(a, r, writer.get(), &progress));
  progress.Finish();
  GLMQ_RETURN_IF_ERROR(writer->Finish());
  return CalibrateSummary{writer->metadata().inputs_size(), static_cast<int64_t>(r.starts.size()),
                          r.passes, r.per_pass, progress.elapsed_seconds()};
}

}  // namespace glmq
