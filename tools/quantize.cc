// glmq quantize IN -o OUT --scheme PRESET [--tensor-type REGEX=ENC[:G] ...]
//                [--method rtn] [--search-grid N]
// IN is an HF checkpoint folder or a .glmq file. Tensors stream through in
// row chunks (peak memory ~ one chunk, not the model). The per-tensor step
// is a QuantMethod (quant/method.h) so calibrated methods can replace RTN.
#include <algorithm>
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
#include "quant/encodings.h"
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

// Chunk buffers reused from tensor to tensor: fresh 64 MiB buffers per
// tensor or chunk cost a page fault per 4 KiB (7 M faults, 21 s of system
// time on GLM-4-9B).
struct ChunkBuffers {
  std::vector<uint8_t> raw, packed;
  std::vector<float> f32[2];       // double buffer (see QuantizeTensor)
  std::vector<uint8_t> stored[2];  // the stored bytes behind f32[i]
};

// Streams one tensor into the writer in `rule`'s encoding.
absl::StatusOr<TensorResult> QuantizeTensor(const TensorSource& src, const pb::TensorEntry& in,
                                            pb::QuantRule rule, QuantMethod& method,
                                            GlmqWriter& writer, ChunkBuffers& b) {
  // A method may rewrite tensors exactly (AWQ folds scales into norms and
  // biases); rewritten vectors are kept in f32 so the fold loses nothing.
  const bool transform = method.Transforms(in);
  if (transform && in.shape_size() == 1) rule.set_encoding(pb::ENCODING_F32);
  pb::TensorEntry out = in;
  out.clear_offset();
  out.clear_size();
  out.clear_xxh64();
  out.set_encoding(rule.encoding());
  out.set_group_size(rule.group_size());
  const int64_t rows = TensorRows(in), cols = TensorCols(in);
  const EncodingTraits* t = FindEncoding(rule.encoding());
  const bool copy =
      !transform && rule.encoding() == in.encoding() && rule.group_size() == in.group_size();
  TensorResult res;
  GLMQ_RETURN_IF_ERROR(writer.BeginTensor(out));  // quant_nmse is set at the end
  const int64_t chunk = std::max<int64_t>(1, kChunkValues / std::max<int64_t>(cols, 1));
  // Double buffer: the next chunk is read (page faults, bf16 -> f32) on a
  // second thread while this one is quantized, so reading the disk and the
  // scale search overlap. Peak memory: two f32 chunks (2 x 64 MiB) and
  // their stored bytes.
  std::vector<uint8_t>& raw = b.raw;
  std::vector<uint8_t>& packed = b.packed;
  absl::Status next_status;
  std::thread reader;
  DType in_dt = DType::kF32;
  const bool dense_in = DenseDType(in.encoding(), &in_dt);
  auto start_read = [&](int64_t r0, int slot) {
    const int64_t r1 = std::min(rows, r0 + chunk);
    std::vector<float>* buf = &b.f32[slot];
    std::vector<uint8_t>* st = &b.stored[slot];
    buf->resize((r1 - r0) * cols);
    if (dense_in) st->resize((r1 - r0) * cols * DTypeSize(in_dt));
    reader = std::thread([&src, &in, r0, r1, buf, st, dense_in, in_dt, &next_status] {
      if (!dense_in) {
        next_status = src.ReadRowsF32(in, r0, r1, buf->data());
        return;
      }
      next_status = src.ReadRowsRaw(in, r0, r1, st->data());
      if (next_status.ok()) ConvertToF32(in_dt, st->data(), buf->data(), buf->size());
    });
  };
  auto finish_read = [&]() -> absl::Status {
    if (reader.joinable()) reader.join();
    return next_status;
  };
  // Joins a pending read on every exit path (errors included).
  struct Joiner {
    std::thread* t;
    ~Joiner() {
      if (t->joinable()) t->join();
    }
  } joiner{&reader};
  TensorQuantJob job{&out, {rule.encoding(), rule.group_size(), 8}, rows, cols};
  if (!copy && t->quantized) GLMQ_RETURN_IF_ERROR(method.BeginTensor(job));
  if (!copy) start_read(0, 0);
  for (int64_t r0 = 0, k = 0; r0 < rows; r0 += chunk, ++k) {
    const int64_t r1 = std::min(rows, r0 + chunk);
    if (copy) {
      GLMQ_ASSIGN_OR_RETURN(uint64_t row_bytes, RowBytes(in));
      raw.resize(row_bytes * (r1 - r0));
      GLMQ_RETURN_IF_ERROR(src.ReadRowsRaw(in, r0, r1, raw.data()));
      GLMQ_RETURN_IF_ERROR(writer.AppendTensorData(raw));
      res.bytes += raw.size();
      continue;
    }
    GLMQ_RETURN_IF_ERROR(finish_read());
    std::vector<float>& f32 = b.f32[k % 2];
    if (r1 < rows) start_read(r1, static_cast<int>((k + 1) % 2));
    if (transform) GLMQ_RETURN_IF_ERROR(method.TransformRows(in, f32.data(), r0, r1 - r0, cols));
    if (t->quantized) {
      GLMQ_ASSIGN_OR_RETURN(uint64_t n, QuantizedBytes(job.spec, r1 - r0, cols));
      packed.resize(n);
      GLMQ_RETURN_IF_ERROR(method.QuantizeRows(job, f32.data(), r0, r1 - r0, packed.data(),
                                               &res.stats));
    } else {
      DType dt;
      if (!DenseDType(rule.encoding(), &dt))
        return absl::InvalidArgumentError(absl::StrCat(in.name(), ": cannot write encoding ",
                                                       t->name));
      packed.resize(f32.size() * DTypeSize(dt));
      ConvertFromF32(dt, f32.data(), packed.data(), f32.size());
    }
    GLMQ_RETURN_IF_ERROR(writer.AppendTensorData(packed));
    res.bytes += packed.size();
  }
  if (!copy && t->quantized) GLMQ_RETURN_IF_ERROR(method.EndTensor(job));
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
    return QuantSpec{rule.encoding(), rule.group_size(), 8};
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
  ChunkBuffers buffers;
  for (const pb::TensorEntry& e : meta.tensors()) {
    const pb::QuantRule rule = scheme.Choose(e);
    auto res = QuantizeTensor(*src, e, rule, *method, *writer, buffers);
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
                  "scale candidates per group (0 = plain absmax RTN; default 8)");
  return [args]() { return RunQuantize(*args); };
}

}  // namespace

GLMQ_COMMAND(quantize, "quantize", "Quantize a checkpoint (HF folder or .glmq) to a .glmq",
             SetupQuantize);

}  // namespace glmq::tools
