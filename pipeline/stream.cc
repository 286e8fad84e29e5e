#include "pipeline/stream.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "pipeline/stages.h"
#include "schema/encodings.h"

namespace glmq {
namespace {

absl::Status CheckFinite(const pb::TensorEntry& in, DType in_dtype, DType out, const uint8_t* p,
                         int64_t n, int64_t r0, int64_t cols) {
  const int64_t bad = FirstNonFinite(out, p, n);
  if (bad < 0) return absl::OkStatus();
  const std::string from = in.source_names_size() > 0 ? in.source_names(0) : in.name();
  return absl::InvalidArgumentError(absl::StrCat(
      "tensor '", in.name(), "' (from ", from, "): non-finite value (NaN/Inf",
      out != in_dtype ? absl::StrCat(" or overflow converting to ", Traits(out).name) : "",
      ") at row ", r0 + bad / cols, ", column ", bad % cols));
}

// Buffers reused from tensor to tensor: fresh 64 MiB buffers per tensor or
// chunk cost a page fault per 4 KiB (7 M faults, 21 s of system time on
// GLM-4-9B).
struct ChunkBuffers {
  std::vector<uint8_t> packed;
  std::vector<float> f32;  // only for tensors that are not plan.raw_quant
};

// Encodes rows [r0, r1) (`data`: stored bytes, or f32 when p.read_f32)
// into b.packed.
absl::Status EncodeChunk(const pb::TensorEntry& in, const TensorPlan& p, const TensorQuantJob& job,
                         QuantMethod& method, absl::Span<const uint8_t> data, int64_t r0,
                         int64_t r1, ChunkBuffers& b, QuantStats* stats) {
  std::vector<uint8_t>& packed = b.packed;
  DType out_dtype;
  const bool dense_out = DenseDType(p.rule.encoding(), &out_dtype);
  if (p.copy) {
    packed.assign(data.begin(), data.end());
    if (!dense_out) return absl::OkStatus();
    return CheckFinite(in, p.in_dtype, out_dtype, packed.data(), (r1 - r0) * p.cols, r0, p.cols);
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
  if (!dense_out)
    return absl::InvalidArgumentError(absl::StrCat("cannot write encoding ", t->name));
  packed.resize(f32.size() * DTypeSize(out_dtype));
  ConvertFromF32(out_dtype, f32.data(), packed.data(), f32.size());
  return CheckFinite(in, p.in_dtype, out_dtype, packed.data(), f32.size(), r0, p.cols);
}

// Streams one tensor into the writer in its plan's encoding: chunks come
// from `ra` (read ahead), their bytes go out through `wb` (written behind).
absl::StatusOr<TensorResult> StreamTensor(const pb::TensorEntry& in, const TensorPlan& p,
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
  GLMQ_RETURN_IF_ERROR(writer.BeginTensor(out));  // quant_nmse is set by the caller
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

}  // namespace

TensorPlan PlanTensor(const pb::TensorEntry& in, const pb::QuantRule& rule,
                      const QuantMethod& method, int64_t chunk_values) {
  TensorPlan p;
  p.rule = rule;
  p.transform = method.Transforms(in);
  // A method may rewrite tensors exactly (AWQ folds scales into norms and
  // biases); rewritten vectors are kept in f32 so the fold loses nothing.
  if (p.transform && in.shape_size() == 1) p.rule.set_encoding(pb::ENCODING_F32);
  p.rows = TensorRows(in);
  p.cols = TensorCols(in);
  p.chunk_rows = std::max<int64_t>(1, chunk_values / std::max<int64_t>(p.cols, 1));
  p.copy = !p.transform && p.rule.encoding() == in.encoding() &&
           p.rule.group_size() == in.group_size();
  const bool dense_in = DenseDType(in.encoding(), &p.in_dtype);
  const EncodingTraits* t = FindEncoding(p.rule.encoding());
  p.raw_quant = !p.copy && dense_in && !p.transform && t != nullptr && t->quantized &&
                method.QuantizesRaw();
  p.read_f32 = !p.copy && !dense_in;
  return p;
}

absl::Status StreamTensors(const TensorSource& src, const std::vector<TensorPlan>& plans,
                           QuantMethod& method, GlmqWriter& writer,
                           const std::function<absl::Status(int, const TensorResult&)>& done) {
  const pb::ModelMetadata& meta = src.metadata();
  if (static_cast<int>(plans.size()) != meta.tensors_size())
    return absl::InternalError("stream: one plan per tensor expected");
  std::vector<ReadAhead::Job> jobs;
  for (int i = 0; i < meta.tensors_size(); ++i) {
    const TensorPlan& p = plans[i];
    for (int64_t r0 = 0; r0 < p.rows; r0 += p.chunk_rows)
      jobs.push_back({&meta.tensors(i), r0, std::min(p.rows, r0 + p.chunk_rows), p.read_f32});
  }
  ReadAhead read_ahead(src, std::move(jobs));
  WriteBehind write_behind(writer);
  ChunkBuffers buffers;
  for (int i = 0; i < meta.tensors_size(); ++i) {
    const pb::TensorEntry& e = meta.tensors(i);
    auto res = StreamTensor(e, plans[i], method, writer, read_ahead, write_behind, buffers);
    if (!res.ok()) return Annotate(res.status(), absl::StrCat("tensor ", e.name()));
    if (done) GLMQ_RETURN_IF_ERROR(done(i, *res));
  }
  return absl::OkStatus();
}

}  // namespace glmq
