// glmq calibrate MODEL.glmq --text FILE -o stats.bin [--windows N] [--ctx N]
//                 [--samples N] [--no-xtx] [--layers-per-pass K]
// Runs calibration text through the model and records, for every linear
// layer's input, the statistics the calibrated quantizers need
// (runtime/calib/stats.h): imatrix, AWQ and GPTQ. specs/calibration.md.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "convert/convert.h"
#include "core/checksum.h"
#include "core/dtype.h"
#include "core/file.h"
#include "core/progress.h"
#include "core/status.h"
#include "format/reader.h"
#include "runtime/calib/stats.h"
#include "runtime/calib/stats_file.h"
#include "runtime/cpu/cpu_backend.h"
#include "runtime/model.h"
#include "runtime/session.h"
#include "runtime/tokenizer/tokenizer.h"
#include "runtime/weights.h"
#include "tools/command.h"

namespace glmq::tools {
namespace {

struct CalibrateArgs {
  std::string model, text, output;
  int64_t windows = 256;  // 0 = all windows of the text
  int64_t ctx = 256;
  int64_t samples = 512;
  bool no_xtx = false;
  int layers_per_pass = 0;  // 0 = as many as kPassStatsBudget allows
  std::string layers;       // "FIRST:END": record only these layers (benchmarks)
  std::string tokenizer;    // HF folder to take the tokenizer from instead of the file's
  uint64_t seed = 1;
  int threads = 0;          // 0 = OpenMP's default (all)
};

absl::StatusOr<std::unique_ptr<Tokenizer>> EmbeddedTokenizer(const GlmqFile& file) {
  const pb::Tokenizer& meta = file.metadata().tokenizer();
  std::map<std::string, std::string> files;
  for (const pb::EmbeddedFile& f : meta.files()) {
    GLMQ_ASSIGN_OR_RETURN(files[f.name()], file.EmbeddedFile(f.name()));
  }
  TokenizerOptions options;
  for (int64_t id : meta.eos_token_ids()) options.extra_eos_ids.push_back(static_cast<int32_t>(id));
  auto t = Tokenizer::FromFiles(files, options);
  if (!t.ok()) return Annotate(t.status(), file.path());
  return t;
}

// The model's fingerprint (StatsMetadata.weights_xxh64), 0 if the tensor
// is not stored as f32/bf16/f16.
absl::StatusOr<uint64_t> Fingerprint(const WeightSource& src) {
  GLMQ_ASSIGN_OR_RETURN(WeightView t, src.Find(FingerprintWeight()));
  const int64_t n = t.rows * t.cols;
  DType dt;
  if (t.encoding == pb::ENCODING_F32) dt = DType::kF32;
  else if (t.encoding == pb::ENCODING_BF16) dt = DType::kBF16;
  else if (t.encoding == pb::ENCODING_F16) dt = DType::kF16;
  else return 0;
  std::vector<float> v(static_cast<size_t>(n));
  ConvertToF32(dt, t.data, v.data(), n);
  return WeightsFingerprint(v);
}

// Statistics a pass may hold at once when --layers-per-pass is 0: GLM-4-9B
// gets 2 layers per pass (1.8 GiB each), the fixtures all of theirs.
constexpr uint64_t kPassStatsBudget = uint64_t{4} << 30;

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

absl::Status RunCalibrate(const CalibrateArgs& a) {
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<GlmqWeightSource> src, GlmqWeightSource::Open(a.model));
  const uint64_t model_xxh64 = src->file().metadata_xxh64();
  GLMQ_ASSIGN_OR_RETURN(const uint64_t weights_xxh64, Fingerprint(*src));
  std::unique_ptr<Tokenizer> tok;
  if (a.tokenizer.empty()) {
    GLMQ_ASSIGN_OR_RETURN(tok, EmbeddedTokenizer(src->file()));
  } else {
    GLMQ_ASSIGN_OR_RETURN(tok, Tokenizer::FromDir(a.tokenizer));
  }
  const GlmqFile& file = src->file();  // owned by the model from here on
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<Model> model,
                        Model::Load(std::move(src), std::make_unique<CpuBackend>(a.threads)));
  GLMQ_ASSIGN_OR_RETURN(std::string text, ReadFileToString(a.text));
  const std::vector<int32_t> ids = tok->Encode(text, /*allow_special=*/false);
  if (a.ctx <= 1) return absl::InvalidArgumentError(absl::StrCat("--ctx ", a.ctx));
  const std::vector<int64_t> starts = WindowStarts(static_cast<int64_t>(ids.size()), a.ctx, a.windows);
  if (starts.empty())
    return absl::InvalidArgumentError(absl::StrCat(a.text, ": ", ids.size(),
                                                   " tokens, fewer than one window of ", a.ctx));
  const int n_layers = static_cast<int>(model->hparams().n_layers());
  int first = 0, end = n_layers;
  GLMQ_RETURN_IF_ERROR(ParseLayers(a.layers, n_layers, &first, &end));
  int per_pass = a.layers_per_pass;
  if (per_pass <= 0) {
    StatsOptions so;
    so.collect_xtx = !a.no_xtx;
    so.max_samples = a.samples;
    const uint64_t layer = LayerStatsBytes(model->hparams(), so);
    per_pass = static_cast<int>(std::clamp<uint64_t>(
        kPassStatsBudget / std::max<uint64_t>(layer, 1), 1, static_cast<uint64_t>(end - first)));
  }
  const int passes = (end - first + per_pass - 1) / per_pass;

  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<StatsWriter> writer, StatsWriter::Create(a.output));
  calib::pb::StatsMetadata& meta = writer->metadata();
  meta.set_model_path(a.model);
  meta.set_model_xxh64(model_xxh64);
  meta.set_weights_xxh64(weights_xxh64);
  meta.set_first_layer(first);
  meta.set_end_layer(end);
  meta.set_data_name(std::filesystem::path(a.text).filename().string());
  meta.set_data_xxh64(XxHash64(text));
  meta.set_n_windows(static_cast<int64_t>(starts.size()));
  meta.set_window(a.ctx);
  meta.set_n_tokens(static_cast<int64_t>(starts.size()) * a.ctx);
  meta.set_has_xtx(!a.no_xtx);
  meta.set_max_samples(a.samples);
  meta.set_seed(a.seed);
  meta.set_command_line(CommandLine());
  meta.set_created_utc(UtcNowRfc3339());

  // Pass p records layers [first_p, end_p): it resumes every window from the
  // residual stream where pass p - 1 left it (Session::ForwardLayers), so the
  // forward pass runs once in total, only up to the last recorded layer, and
  // a pass touches only its layers' weights.
  Progress progress("calibrate", static_cast<uint64_t>(starts.size()) * passes, "windows");
  SessionOptions sopt;
  sopt.max_context = a.ctx;
  sopt.prefill_chunk = a.ctx;  // one chunk per window
  sopt.all_logits = false;
  std::vector<std::vector<float>> hidden(starts.size());  // [windows][ctx, hidden]
  int done = 0;                                           // layers already run
  for (int pass = 0; pass < passes; ++pass) {
    StatsOptions so;
    so.collect_xtx = !a.no_xtx;
    so.max_samples = a.samples;
    so.seed = a.seed;
    so.first_layer = first + pass * per_pass;
    so.end_layer = std::min(end, first + (pass + 1) * per_pass);
    so.include_output = pass == passes - 1 && end == n_layers;
    StatsCollector collector(so);
    sopt.observer = &collector;
    GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<Session> session, Session::Create(model.get(), sopt));
    for (size_t w = 0; w < starts.size(); ++w) {
      session->Reset();
      GLMQ_RETURN_IF_ERROR(session->ForwardLayers(
          absl::MakeConstSpan(ids.data() + starts[w], static_cast<size_t>(a.ctx)), done,
          so.end_layer, &hidden[w]));
      progress.Add(absl::StrCat("layers ", so.first_layer, "-", so.end_layer - 1), 1);
    }
    done = so.end_layer;
    for (const InputStats& s : collector.Finish()) GLMQ_RETURN_IF_ERROR(writer->Add(s));
    // No later pass reads these layers again: unmap their pages, so that the
    // process holds about one pass's weights rather than all it has run.
    for (int l = so.first_layer; l < so.end_layer; ++l) DropLayerPages(file, l);
  }
  progress.Finish();
  GLMQ_RETURN_IF_ERROR(writer->Finish());
  std::fprintf(stderr,
               "wrote %s: %d inputs, %lld windows x %lld tokens, passes: %d of <= %d layers, "
               "%.1f s\n",
               a.output.c_str(), meta.inputs_size(), static_cast<long long>(starts.size()),
               static_cast<long long>(a.ctx), passes, per_pass, progress.elapsed_seconds());
  return absl::OkStatus();
}

RunFn Setup(CLI::App* sub) {
  auto a = std::make_shared<CalibrateArgs>();
  sub->add_option("model", a->model, "model .glmq file (bf16/f32 weights)")->required();
  sub->add_option("--text", a->text, "calibration text file (UTF-8)")->required();
  sub->add_option("-o,--output", a->output, "statistics file to write")->required();
  sub->add_option("--windows", a->windows, "windows of --ctx tokens, spread over the text (0 = all)");
  sub->add_option("--ctx", a->ctx, "tokens per window");
  sub->add_option("--samples", a->samples, "activation rows kept per input for AWQ (0 = none)");
  sub->add_flag("--no-xtx", a->no_xtx, "skip X^T X (GPTQ): imatrix/AWQ statistics only");
  sub->add_option("--layers-per-pass", a->layers_per_pass,
                  "record K layers per pass over the text (bounds memory; 0 = as many as keep "
                  "the statistics of a pass within 4 GiB)");
  sub->add_option("--seed", a->seed, "seed of the activation sample");
  sub->add_option("-t,--threads", a->threads, "threads (default: all)");
  sub->add_option("--tokenizer", a->tokenizer,
                  "HF folder whose tokenizer to use (for a .glmq without one, e.g. glmq synth "
                  "output; its ids must be < the model's vocabulary)");
  sub->add_option("--layers", a->layers,
                  "FIRST:END: record only layers [FIRST, END) (the rest are quantized with rtn; "
                  "for benchmarks)");
  return [a] { return RunCalibrate(*a); };
}

}  // namespace

GLMQ_COMMAND(calibrate, "calibrate",
             "collect activation statistics for imatrix / AWQ / GPTQ quantization", Setup);

}  // namespace glmq::tools
