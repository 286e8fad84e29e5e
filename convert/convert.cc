#include "convert/convert.h"

#include <chrono>
#include <cstring>
#include <ctime>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "convert/layout.h"
#include "convert/source.h"
#include "core/dtype.h"
#include "core/progress.h"
#include "core/status.h"
#include "convert/write_pipeline.h"
#include "format/writer.h"

#ifndef GLMQ_VERSION
#define GLMQ_VERSION "unknown"
#endif

namespace glmq {
namespace {

// Index of the first non-finite value (NaN or +-Inf) in n values, or -1.
int64_t FirstNonFinite(DType dtype, const uint8_t* p, int64_t n) {
  if (dtype == DType::kF32) {
    for (int64_t i = 0; i < n; ++i) {
      uint32_t u;
      std::memcpy(&u, p + 4 * i, 4);
      if ((u & 0x7f800000u) == 0x7f800000u) return i;
    }
    return -1;
  }
  const uint16_t mask = dtype == DType::kBF16 ? 0x7f80 : 0x7c00;
  // Branch-free OR-reduction per block; locate the value only on a hit.
  constexpr int64_t kBlock = 4096;
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t e = std::min(n, b + kBlock);
    bool hit = false;
    for (int64_t i = b; i < e; ++i) {
      uint16_t h;
      std::memcpy(&h, p + 2 * i, 2);
      hit |= (h & mask) == mask;
    }
    if (!hit) continue;
    for (int64_t i = b; i < e; ++i) {
      uint16_t h;
      std::memcpy(&h, p + 2 * i, 2);
      if ((h & mask) == mask) return i;
    }
  }
  return -1;
}

// Chunk buffers between the converting thread and the writer thread: one
// being filled, one being written, one queued. 3 x 64 MiB by default.
constexpr int kPipelineBuffers = 3;

int64_t ChunkRows(const ConvertOptions& opt, uint64_t in_row, uint64_t out_row) {
  return std::max<int64_t>(1, static_cast<int64_t>(opt.chunk_bytes / std::max(in_row, out_row)));
}

// Bytes of the largest converted chunk (a chunk holds at least one row).
uint64_t MaxChunkBytes(const pb::ModelMetadata& md, const ConvertOptions& opt) {
  uint64_t most = 1;
  for (const pb::TensorEntry& e : md.tensors()) {
    const pb::Encoding want = opt.dtype == pb::ENCODING_UNSPECIFIED ? e.encoding() : opt.dtype;
    auto from = DTypeForEncoding(e.encoding(), e.name());
    auto to = DTypeForEncoding(want, e.name());
    if (!from.ok() || !to.ok()) continue;  // reported by ConvertTensor
    const uint64_t in_row = TensorCols(e) * DTypeSize(*from), out_row = TensorCols(e) * DTypeSize(*to);
    const int64_t rows = std::min(TensorRows(e), ChunkRows(opt, in_row, out_row));
    most = std::max(most, rows * out_row);
  }
  return most;
}

struct Buffers {
  std::vector<uint8_t> raw;  // source rows when the encoding changes
  std::vector<float> f32;
};

// Reads, converts and checks `in` chunk by chunk on this thread; hashing
// and writing happen on the pipeline's writer thread.
absl::Status ConvertTensor(const TensorSource& src, const pb::TensorEntry& in,
                           pb::Encoding want, const ConvertOptions& opt,
                           PipelinedTensorWriter* pipe, Progress* progress, Buffers* buf,
                           ConvertStats* stats) {
  GLMQ_ASSIGN_OR_RETURN(DType from, DTypeForEncoding(in.encoding(), in.name()));
  GLMQ_ASSIGN_OR_RETURN(DType to, DTypeForEncoding(want, in.name()));
  pb::TensorEntry out = in;
  out.set_encoding(want);
  GLMQ_RETURN_IF_ERROR(pipe->BeginTensor(out));
  const int64_t rows = TensorRows(in), cols = TensorCols(in);
  const uint64_t in_row = cols * DTypeSize(from), out_row = cols * DTypeSize(to);
  const int64_t chunk_rows = ChunkRows(opt, in_row, out_row);
  for (int64_t r = 0; r < rows; r += chunk_rows) {
    const int64_t e = std::min(rows, r + chunk_rows);
    const int64_t n = (e - r) * cols;
    uint8_t* data = pipe->AcquireBuffer((e - r) * out_row);
    if (data == nullptr) return pipe->Close();  // the writer thread failed
    if (from == to) {
      GLMQ_RETURN_IF_ERROR(src.ReadRowsRaw(in, r, e, data));
    } else {
      buf->raw.resize((e - r) * in_row);
      buf->f32.resize(n);
      GLMQ_RETURN_IF_ERROR(src.ReadRowsRaw(in, r, e, buf->raw.data()));
      ConvertToF32(from, buf->raw.data(), buf->f32.data(), n);
      ConvertFromF32(to, buf->f32.data(), data, n);
    }
    if (int64_t bad = FirstNonFinite(to, data, n); bad >= 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tensor '", in.name(), "' (from ", in.source_names(0), "): non-finite value (NaN/Inf",
          from != to ? absl::StrCat(" or overflow converting to ", Traits(to).name) : "",
          ") at row ", r + bad / cols, ", column ", bad % cols));
    }
    GLMQ_RETURN_IF_ERROR(pipe->Submit((e - r) * out_row));
    stats->tensor_bytes_read += (e - r) * in_row;
    stats->tensor_bytes_written += (e - r) * out_row;
    progress->Update(in.name(), stats->tensor_bytes_read);
  }
  ++stats->n_tensors;
  return pipe->EndTensor();
}

}  // namespace

std::string GlmqToolVersion() { return absl::StrCat("glmq ", GLMQ_VERSION); }

std::string UtcNowRfc3339() {
  const std::time_t now = std::time(nullptr);
  std::tm tm;
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

absl::StatusOr<ConvertStats> ConvertHfToGlmq(const std::string& hf_dir,
                                             const std::string& out_path,
                                             const ConvertOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<HfTensorSource> src, OpenHfCheckpoint(hf_dir));
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
  // Shard hashes need a full sequential read: run it beside the conversion,
  // which then mostly reads pages the hasher just brought in (one disk pass).
  absl::Status hash_status;
  std::thread hasher;
  if (options.hash_sources) {
    hasher = std::thread([&] { hash_status = src->HashShards({}); });
  }
  uint64_t total = 0;
  for (const pb::TensorEntry& e : src->metadata().tensors()) {
    total += TensorRows(e) * TensorCols(e) * DTypeSize(*DTypeForEncoding(e.encoding(), ""));
  }
  Progress progress("convert", total);
  Buffers buf;
  ConvertStats stats;
  absl::Status status;
  {
    PipelinedTensorWriter pipe(writer.get(), kPipelineBuffers, MaxChunkBytes(src->metadata(), options));
    for (const pb::TensorEntry& e : src->metadata().tensors()) {
      const pb::Encoding want =
          options.dtype == pb::ENCODING_UNSPECIFIED ? e.encoding() : options.dtype;
      status = ConvertTensor(*src, e, want, options, &pipe, &progress, &buf, &stats);
      if (!status.ok()) break;
    }
    const absl::Status closed = pipe.Close();
    if (status.ok()) status = closed;
  }
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
