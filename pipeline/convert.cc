#include "pipeline/convert.h"

#include <chrono>
#include <thread>
#include <vector>

#include "core/dtype.h"
#include "core/progress.h"
#include "core/status.h"
#include "core/version.h"
#include "format/writer.h"
#include "pipeline/source.h"
#include "schema/encodings.h"

namespace glmq {
namespace {

// Each tensor in its source dtype, or cast to options.dtype.
std::vector<TensorPlan> CastPlans(const pb::ModelMetadata& md, const ConvertOptions& options,
                                  const QuantMethod& method) {
  std::vector<TensorPlan> plans;
  for (const pb::TensorEntry& e : md.tensors()) {
    pb::QuantRule rule;
    rule.set_encoding(options.dtype == pb::ENCODING_UNSPECIFIED ? e.encoding() : options.dtype);
    plans.push_back(PlanTensor(e, rule, method, options.chunk_values));
  }
  return plans;
}

}  // namespace

absl::StatusOr<ConvertStats> ConvertHfToGlmq(const std::string& hf_dir,
                                             const std::string& out_path,
                                             const ConvertOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  // Buffered reads: the hasher below brings the shards into the page cache
  // and the stream reads them from there, so the disk is read once.
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<HfTensorSource> src,
                        OpenHfCheckpoint(hf_dir, /*direct_io=*/false));
  DType dt;
  if (options.dtype != pb::ENCODING_UNSPECIFIED && !DenseDType(options.dtype, &dt))
    return absl::InvalidArgumentError(absl::StrCat("convert: --dtype must be f32, f16 or bf16, not ",
                                                   pb::Encoding_Name(options.dtype)));
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<GlmqWriter> writer, GlmqWriter::Create(out_path));
  // Written once, read later: stream it to disk as it goes (64 MiB windows,
  // at most ~320 MiB dirty) rather than filling the page cache and
  // stalling on the kernel's dirty limit (see AtomicOutputFile).
  writer->SetWriteBehind(64ull << 20, 4);
  pb::ModelMetadata& md = writer->metadata();
  md = src->metadata();
  md.clear_tensors();
  pb::Provenance* prov = md.mutable_provenance();
  prov->set_tool_version(GlmqToolVersion());
  prov->set_command_line(options.command_line);
  prov->set_created_utc(UtcNowRfc3339());
  absl::Status hash_status;
  std::thread hasher;
  if (options.hash_sources) hasher = std::thread([&] { hash_status = src->HashShards({}); });

  const std::unique_ptr<QuantMethod> none = MakeRtnMethod();  // nothing is quantized
  const std::vector<TensorPlan> plans = CastPlans(src->metadata(), options, *none);
  ConvertStats stats;
  uint64_t total = 0;
  for (const TensorPlan& p : plans) total += p.rows * p.cols * DTypeSize(p.in_dtype);
  Progress progress("convert", total);
  absl::Status status =
      StreamTensors(*src, plans, *none, *writer, [&](int i, const TensorResult& r) {
        const TensorPlan& p = plans[i];
        stats.tensor_bytes_read += p.rows * p.cols * DTypeSize(p.in_dtype);
        stats.tensor_bytes_written += r.bytes;
        ++stats.n_tensors;
        progress.Update(src->metadata().tensors(i).name(), stats.tensor_bytes_read);
        return absl::OkStatus();
      });
  if (hasher.joinable()) hasher.join();
  if (!status.ok()) return Annotate(status, hf_dir);
  GLMQ_RETURN_IF_ERROR(hash_status);
  *prov->mutable_source_files() = src->metadata().provenance().source_files();
  GLMQ_RETURN_IF_ERROR(writer->Finish());
  progress.Finish();
  stats.file_bytes = writer->bytes_written();
  stats.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return stats;
}

}  // namespace glmq
