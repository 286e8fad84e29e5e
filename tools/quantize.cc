// glmq quantize IN -o OUT --scheme PRESET [--tensor-type REGEX=ENC[:G] ...]
//                [--method rtn] [--search-grid N]
// IN is an HF checkpoint folder or a .glmq file. Tensors stream through in
// row chunks (peak memory ~ one chunk, not the model). The per-tensor step
// is a QuantMethod (quant/method.h) so calibrated methods can replace RTN.
#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <utility>
#include <cstdio>
#include <filesystem>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "convert/source.h"
#include "core/dtype.h"
#include "core/progress.h"
#include "core/status.h"
#include "format/writer.h"
#include "schema/encodings.h"
#include "quant/method.h"
#include "quant/scheme.h"
#include "runtime/calib/calib_method.h"
#include "tools/command.h"

namespace glmq::tools {
namespace {

struct QuantizeArgs {
  std::string input, output, scheme, method = "rtn";
  std::vector<std::string> tensor_types;
  int search_grid = -1;
  std::string calib;  // statistics file (glmq calibrate) for imatrix/awq/gptq
};

constexpr int64_t kChunkValues = int64_t{1} << 24;  // f32 values per chunk: 64 MiB

// A tensor that is already quantized is copied when the rule keeps its
// encoding and group, or decoded when the rule asks for f32/f16/bf16;
// quantizing it again (to another quantized encoding or group) would stack
// a second rounding on the first, so it is an error naming the file, the
// tensor and the ways out.
absl::Status CheckNoRequantization(const std::string& input, const pb::TensorEntry& e,
                                   const pb::QuantRule& rule) {
  const EncodingTraits* src = FindEncoding(e.encoding());
  const EncodingTraits* dst = FindEncoding(rule.encoding());
  if (src == nullptr || !src->quantized || dst == nullptr || !dst->quantized) {
    return absl::OkStatus();
  }
  if (rule.encoding() == e.encoding() && rule.group_size() == e.group_size()) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrFormat(
      "%s: tensor '%s' is already quantized (%s g%d); re-quantizing it to %s g%d would compound "
      "the rounding error. Quantize from the bf16 .glmq or the HF folder, or keep it with "
      "--tensor-type '^%s$=%s:%d'",
      input, e.name(), src->name, e.group_size(), dst->name, rule.group_size(),
      absl::StrReplaceAll(e.name(), {{".", "\\."}}), src->name, e.group_size()));
}

struct TensorResult {
  QuantStats stats;
  uint64_t bytes = 0;
};

// How one tensor is streamed: copied in its stored bytes, quantized from its
// stored dense rows (QuantMethod::QuantizeRawRows), or converted to f32
// first (other methods, rewrites, dense outputs; quantized inputs are
// decoded to f32 by the reader).
struct TensorPlan {
  pb::QuantRule rule;
  bool transform = false, copy = false, raw_quant = false, read_f32 = false;
  DType in_dtype = DType::kF32;  // stored dtype when dense
  int64_t rows = 0, cols = 0, chunk_rows = 1;
};

TensorPlan PlanTensor(const pb::TensorEntry& in, const pb::QuantRule& rule,
                      const QuantMethod& method) {
  TensorPlan p;
  p.rule = rule;
  p.transform = method.Transforms(in);
  // A method may rewrite tensors exactly (AWQ folds scales into norms and
  // biases); rewritten vectors are kept in f32 so the fold loses nothing.
  if (p.transform && in.shape_size() == 1) p.rule.set_encoding(pb::ENCODING_F32);
  p.rows = TensorRows(in);
  p.cols = TensorCols(in);
  p.chunk_rows = std::max<int64_t>(1, kChunkValues / std::max<int64_t>(p.cols, 1));
  p.copy = !p.transform && p.rule.encoding() == in.encoding() &&
           p.rule.group_size() == in.group_size();
  const bool dense_in = DenseDType(in.encoding(), &p.in_dtype);
  const EncodingTraits* t = FindEncoding(p.rule.encoding());
  p.raw_quant = !p.copy && dense_in && !p.transform && t != nullptr && t->quantized &&
                method.QuantizesRaw();
  p.read_f32 = !p.copy && !dense_in;
  return p;
}

// Reads the row chunks of every tensor, in the order they are consumed, on
// a thread of its own, up to kSlots - 1 chunks ahead of the consumer and
// across tensor boundaries, so the disk stays busy while chunks are
// quantized. Stored bytes come through TensorSource::ReadRowsInto (O_DIRECT
// where possible: no page-cache copy; cold GLM-4-9B int4-g128 had 17-24 s
// of system time in pread). Peak memory: kSlots chunk buffers (reused).
class ReadAhead {
 public:
  struct Job {
    const pb::TensorEntry* entry;
    int64_t r0, r1;
    bool f32;  // ReadRowsF32 (decode) instead of the stored bytes
  };
  ReadAhead(const TensorSource& src, std::vector<Job> jobs)
      : src_(src), jobs_(std::move(jobs)), thread_([this] { Run(); }) {}
  ~ReadAhead() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  // The next job's bytes; valid until the next call. Not thread-safe (one
  // consumer).
  absl::StatusOr<absl::Span<const uint8_t>> Next() {
    std::unique_lock<std::mutex> l(mu_);
    if (next_ > 0) released_ = next_;  // the previous chunk is handed back
    cv_.notify_all();
    if (next_ >= jobs_.size()) return absl::InternalError("quantize: read past the last chunk");
    cv_.wait(l, [this] { return done_ > next_; });
    const size_t s = next_++ % kSlots;
    if (!status_[s].ok()) return status_[s];
    return data_[s];
  }

 private:
  static constexpr size_t kSlots = 3;
  void Run() {
    for (size_t i = 0; i < jobs_.size(); ++i) {
      {
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait(l, [&] { return stop_ || i < released_ + kSlots; });
        if (stop_) return;
      }
      const Job& j = jobs_[i];
      const size_t s = i % kSlots;
      absl::Status st;
      if (j.f32) {
        std::vector<float>& buf = f32_[s];
        buf.resize((j.r1 - j.r0) * TensorCols(*j.entry));
        st = src_.ReadRowsF32(*j.entry, j.r0, j.r1, buf.data());
        data_[s] = {reinterpret_cast<const uint8_t*>(buf.data()), buf.size() * sizeof(float)};
      } else {
        absl::StatusOr<absl::Span<const uint8_t>> got =
            src_.ReadRowsInto(*j.entry, j.r0, j.r1, &raw_[s]);
        st = got.status();
        if (st.ok()) data_[s] = *got;
      }
      {
        std::lock_guard<std::mutex> l(mu_);
        status_[s] = st;
        done_ = i + 1;
      }
      cv_.notify_all();
      if (!st.ok()) return;
    }
  }

  const TensorSource& src_;
  const std::vector<Job> jobs_;
  // Job i in slot i % kSlots: its bytes data_ (in raw_ or f32_), status_.
  AlignedBuffer raw_[kSlots];
  std::vector<float> f32_[kSlots];
  absl::Span<const uint8_t> data_[kSlots];
  absl::Status status_[kSlots];
  std::mutex mu_;
  std::condition_variable cv_;
  size_t next_ = 0;      // jobs handed to the consumer
  size_t released_ = 0;  // jobs whose slot the consumer gave back
  size_t done_ = 0;      // jobs read
  bool stop_ = false;
  std::thread thread_;   // last: starts after the members above exist
};

// Appends a tensor's encoded chunks to the writer on a second thread while
// the next chunk is quantized (write() copies into the page cache: ~10 % of
// the CPU when done in line). Wait() before BeginTensor/EndTensor/Finish.
class WriteBehind {
 public:
  explicit WriteBehind(GlmqWriter& writer) : writer_(writer) {}
  ~WriteBehind() { Join(); }
  absl::Status Wait() {
    Join();
    return std::exchange(status_, absl::OkStatus());
  }
  // Starts appending `data`; `data` gets back the buffer of the previous
  // append, whose capacity the caller reuses.
  absl::Status Append(std::vector<uint8_t>& data) {
    GLMQ_RETURN_IF_ERROR(Wait());
    std::swap(data, pending_);
    thread_ = std::thread([this] { status_ = writer_.AppendTensorData(pending_); });
    return absl::OkStatus();
  }

 private:
  void Join() {
    if (thread_.joinable()) thread_.join();
  }
  GlmqWriter& writer_;
  std::vector<uint8_t> pending_;
  absl::Status status_;
  std::thread thread_;
};

// Buffers reused from tensor to tensor: fresh 64 MiB buffers per tensor or
// chunk cost a page fault per 4 KiB (7 M faults, 21 s of system time on
// GLM-4-9B).
struct ChunkBuffers {
  std::vector<uint8_t> packed;
  std::vector<float> f32;  // only for tensors that are not plan.raw_quant
};

// Encodes one chunk of rows [r0, r1) (`data`: stored bytes, or f32 when
// plan.read_f32) into b.packed.
absl::Status EncodeChunk(const pb::TensorEntry& in, const TensorPlan& p, const TensorQuantJob& job,
                         QuantMethod& method, absl::Span<const uint8_t> data, int64_t r0,
                         int64_t r1, ChunkBuffers& b, QuantStats* stats) {
  std::vector<uint8_t>& packed = b.packed;
  if (p.copy) {
    packed.assign(data.begin(), data.end());
    return absl::OkStatus();
  }
  const EncodingTraits* t = FindEncoding(p.rule.encoding());
  uint64_t n = 0;
  if (t->quantized) {
    GLMQ_ASSIGN_OR_RETURN(n, QuantizedBytes(job.spec, r1 - r0, p.cols));
  }
  if (p.raw_quant) {
    packed.resize(n);
    return method.QuantizeRawRows(job, p.in_dtype, data.data(), r0, r1 - r0, packed.data(),
                                  stats);
  }
  std::vector<float>& f32 = b.f32;
  f32.resize((r1 - r0) * p.cols);
  if (p.read_f32) {
    std::memcpy(f32.data(), data.data(), f32.size() * sizeof(float));
  } else {
    ConvertToF32(p.in_dtype, data.data(), f32.data(), f32.size());
  }
  if (p.transform) GLMQ_RETURN_IF_ERROR(method.TransformRows(in, f32.data(), r0, r1 - r0, p.cols));
  if (t->quantized) {
    packed.resize(n);
    return method.QuantizeRows(job, f32.data(), r0, r1 - r0, packed.data(), stats);
  }
  DType dt;
  if (!DenseDType(p.rule.encoding(), &dt))
    return absl::InvalidArgumentError(absl::StrCat(in.name(), ": cannot write encoding ",
                                                   t->name));
  packed.resize(f32.size() * DTypeSize(dt));
  ConvertFromF32(dt, f32.data(), packed.data(), f32.size());
  return absl::OkStatus();
}

// Streams one tensor into the writer in its plan's encoding: chunks come
// from `ra` (read ahead), their bytes go out through `wb` (written behind).
absl::StatusOr<TensorResult> QuantizeTensor(const pb::TensorEntry& in, const TensorPlan& p,
                                            QuantMethod& method, GlmqWriter& writer,
                                            ReadAhead& ra, WriteBehind& wb, ChunkBuffers& b) {
  pb::TensorEntry out = in;
  out.clear_offset();
  out.clear_size();
  out.clear_xxh64();
  out.set_encoding(p.rule.encoding());
  out.set_group_size(p.rule.group_size());
  const EncodingTraits* t = FindEncoding(p.rule.encoding());
  TensorResult res;
  GLMQ_RETURN_IF_ERROR(wb.Wait());
  GLMQ_RETURN_IF_ERROR(writer.BeginTensor(out));  // quant_nmse is set at the end
  TensorQuantJob job{&out, {p.rule.encoding(), p.rule.group_size()}, p.rows, p.cols};
  const bool quantize = !p.copy && t->quantized;
  if (quantize) GLMQ_RETURN_IF_ERROR(method.BeginTensor(job));
  for (int64_t r0 = 0; r0 < p.rows; r0 += p.chunk_rows) {
    const int64_t r1 = std::min(p.rows, r0 + p.chunk_rows);
    GLMQ_ASSIGN_OR_RETURN(absl::Span<const uint8_t> data, ra.Next());
    GLMQ_RETURN_IF_ERROR(EncodeChunk(in, p, job, method, data, r0, r1, b, &res.stats));
    res.bytes += b.packed.size();
    GLMQ_RETURN_IF_ERROR(wb.Append(b.packed));
  }
  if (quantize) GLMQ_RETURN_IF_ERROR(method.EndTensor(job));
  GLMQ_RETURN_IF_ERROR(wb.Wait());
  GLMQ_RETURN_IF_ERROR(writer.EndTensor());
  return res;
}

// imatrix / awq / gptq from a statistics file (runtime/calib/calib_method.h).
absl::StatusOr<std::unique_ptr<QuantMethod>> MakeCalibMethod(const QuantizeArgs& args,
                                                             const TensorSource& src,
                                                             const QuantScheme& scheme) {
  if (args.calib.empty())
    return absl::InvalidArgumentError(absl::StrCat(
        "--method ", args.method, " needs --calib STATS (written by glmq calibrate)"));
  const pb::ModelMetadata& meta = src.metadata();
  auto find = [&meta](const std::string& name) -> const pb::TensorEntry* {
    for (const auto& e : meta.tensors())
      if (e.name() == name) return &e;
    return nullptr;
  };
  calib::WeightFn weights = [&src, find](const std::string& name)
      -> absl::StatusOr<std::vector<float>> {
    const pb::TensorEntry* e = find(name);
    if (e == nullptr) return absl::NotFoundError(absl::StrCat("no tensor ", name));
    std::vector<float> w(static_cast<size_t>(TensorRows(*e) * TensorCols(*e)));
    GLMQ_RETURN_IF_ERROR(src.ReadRowsF32(*e, 0, TensorRows(*e), w.data()));
    return w;
  };
  calib::SpecFn spec = [&scheme, find](const std::string& name) -> std::optional<QuantSpec> {
    const pb::TensorEntry* e = find(name);
    if (e == nullptr) return std::nullopt;
    const pb::QuantRule rule = scheme.Choose(*e);
    const EncodingTraits* t = FindEncoding(rule.encoding());
    if (t == nullptr || !t->quantized) return std::nullopt;
    return QuantSpec{rule.encoding(), rule.group_size()};
  };
  CalibMethodOptions co;
  co.method = args.method;
  co.stats_path = args.calib;
  co.search_grid = args.search_grid;
  return MakeCalibratedMethod(co, meta.hparams(), weights, spec);
}

absl::Status RunQuantize(const QuantizeArgs& args) {
  const bool from_glmq = std::filesystem::is_regular_file(args.input);
  std::unique_ptr<TensorSource> src;
  if (from_glmq) {
    GLMQ_ASSIGN_OR_RETURN(src, OpenGlmqSource(args.input));
  } else {
    GLMQ_ASSIGN_OR_RETURN(src, OpenHfCheckpoint(args.input));
  }
  const pb::ModelMetadata& meta = src->metadata();
  GLMQ_ASSIGN_OR_RETURN(QuantScheme scheme, QuantScheme::Create(args.scheme, args.tensor_types,
                                                                meta.hparams().n_layers()));
  GLMQ_RETURN_IF_ERROR(scheme.CheckUserRulesUsed({meta.tensors().begin(), meta.tensors().end()}));
  for (const pb::TensorEntry& e : meta.tensors()) {
    GLMQ_RETURN_IF_ERROR(CheckNoRequantization(args.input, e, scheme.Choose(e)));
  }
  std::unique_ptr<QuantMethod> method;
  if (args.method == "rtn") {
    method = MakeRtnMethod(args.search_grid);
  } else {
    GLMQ_ASSIGN_OR_RETURN(method, MakeCalibMethod(args, *src, scheme));
  }

  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<GlmqWriter> writer, GlmqWriter::Create(args.output));
  // Written once: stream it to disk as it goes (as glmq convert). Filling
  // the page cache instead made every write() reclaim pages first: 2.5-2.9
  // vs 0.7-0.9 s of system time for a 1.6 GiB int8 output.
  writer->SetWriteBehind(64ull << 20, 4);
  pb::ModelMetadata& out_meta = writer->metadata();
  out_meta = meta;
  out_meta.clear_tensors();
  out_meta.clear_tensor_alignment();
  out_meta.mutable_provenance()->set_command_line(CommandLine());
  if (from_glmq) out_meta.mutable_provenance()->set_parent_file(args.input);
  pb::QuantRecipe* recipe = out_meta.mutable_quant();
  recipe->Clear();
  recipe->set_preset(scheme.preset());
  for (const auto& r : scheme.rules()) *recipe->add_rules() = r;
  method->Describe(recipe->mutable_calibration());

  uint64_t total_in = 0;
  for (const auto& e : meta.tensors()) total_in += static_cast<uint64_t>(TensorRows(e)) * TensorCols(e);
  Progress progress("quantize", total_in, "values");
  double bits = 0, values = 0;
  std::vector<TensorPlan> plans;
  std::vector<ReadAhead::Job> jobs;
  for (const pb::TensorEntry& e : meta.tensors()) {
    plans.push_back(PlanTensor(e, scheme.Choose(e), *method));
    const TensorPlan& p = plans.back();
    for (int64_t r0 = 0; r0 < p.rows; r0 += p.chunk_rows)
      jobs.push_back({&e, r0, std::min(p.rows, r0 + p.chunk_rows), p.read_f32});
  }
  ReadAhead read_ahead(*src, std::move(jobs));
  WriteBehind write_behind(*writer);
  ChunkBuffers buffers;
  for (int i = 0; i < meta.tensors_size(); ++i) {
    const pb::TensorEntry& e = meta.tensors(i);
    const pb::QuantRule rule = scheme.Choose(e);  // as asked (the plan may keep f32)
    auto res = QuantizeTensor(e, plans[i], *method, *writer, read_ahead, write_behind, buffers);
    if (!res.ok()) return Annotate(res.status(), absl::StrCat("tensor ", e.name()));
    const double n = static_cast<double>(TensorRows(e)) * TensorCols(e);
    pb::TensorEntry& written = *out_meta.mutable_tensors(out_meta.tensors_size() - 1);
    written.set_quant_nmse(res->stats.nmse());
    if (e.role() != pb::ROLE_VISION) {
      bits += 8.0 * res->bytes;
      values += n;
    }
    const EncodingTraits* t = FindEncoding(rule.encoding());
    std::string line = absl::StrFormat("%-34s %-5s g%-4d %6.3f bpw", e.name(), t->name,
                                       rule.group_size(), 8.0 * res->bytes / n);
    if (t->quantized) absl::StrAppendFormat(&line, "  nmse %.3e", res->stats.nmse());
    if (IsTerminal(2)) std::fprintf(stderr, "\r\033[K");
    std::fprintf(stderr, "%s\n", line.c_str());
    progress.Add(e.name(), static_cast<uint64_t>(n));
  }
  recipe->set_bits_per_weight(values > 0 ? bits / values : 0);
  progress.Finish();
  GLMQ_RETURN_IF_ERROR(writer->Finish());
  std::fprintf(stderr, "wrote %s: %s, %.3f bits/weight (%s)\n", args.output.c_str(),
               FormatBytes(writer->bytes_written()).c_str(), recipe->bits_per_weight(),
               scheme.preset().c_str());
  return absl::OkStatus();
}

RunFn SetupQuantize(CLI::App* sub) {
  auto args = std::make_shared<QuantizeArgs>();
  sub->add_option("input", args->input, "HF checkpoint folder or .glmq file")->required();
  sub->add_option("-o,--output", args->output, "output .glmq file")->required();
  std::string presets;
  for (const auto& p : AllPresets()) absl::StrAppend(&presets, "\n  ", p.name, ": ", p.help);
  sub->add_option("--scheme", args->scheme,
                  absl::StrCat("preset (or 'none' with --tensor-type):", presets))
      ->required();
  sub->add_option("--tensor-type", args->tensor_types,
                  "REGEX=ENC[:GROUP] (ENC q8|q4|q4a|f16|bf16|f32); first match wins, "
                  "before the preset's rules");
  sub->add_option("--method", args->method, "quantization method: rtn | imatrix | awq | gptq");
  sub->add_option("--calib", args->calib,
                  "calibration statistics (glmq calibrate) for imatrix, awq, gptq");
  sub->add_option("--search-grid", args->search_grid,
                  "shrink steps of the scale search per group (0 = plain absmax RTN; default 8 for "
                  "q4/q4a, 1 for q8)");
  return [args]() { return RunQuantize(*args); };
}

}  // namespace

GLMQ_COMMAND(quantize, "quantize", "Quantize a checkpoint (HF folder or .glmq) to a .glmq",
             SetupQuantize);

}  // namespace glmq::tools
