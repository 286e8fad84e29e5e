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

struct Buffers {
  std::vector<uint8_t> raw;
  std::vector<float> f32;
  std::vector<uint8_t> out;
};

absl::Status ConvertTensor(const TensorSource& src, const pb::TensorEntry& in,
                           pb::Encoding want, const ConvertOptions& opt, GlmqWriter* writer,
                           Progress* progress, Buffers* buf, ConvertStats* stats) {
  GLMQ_ASSIGN_OR_RETURN(DType from, DTypeForEncoding(in.encoding(), in.name()));
  GLMQ_ASSIGN_OR_RETURN(DType to, DTypeForEncoding(want, in.name()));
  pb::TensorEntry out = in;
  out.set_encoding(want);
  GLMQ_RETURN_IF_ERROR(writer->BeginTensor(out));
  const int64_t rows = TensorRows(in), cols = TensorCols(in);
  const uint64_t in_row = cols * DTypeSize(from), out_row = cols * DTypeSize(to);
  const int64_t chunk_rows =
      std::max<int64_t>(1, static_cast<int64_t>(opt.chunk_bytes / std::max(in_row, out_row)));
  for (int64_t r = 0; r < rows; r += chunk_rows) {
    const int64_t e = std::min(rows, r + chunk_rows);
    const int64_t n = (e - r) * cols;
    buf->raw.resize((e - r) * in_row);
    GLMQ_RETURN_IF_ERROR(src.ReadRowsRaw(in, r, e, buf->raw.data()));
    const uint8_t* data = buf->raw.data();
    if (from != to) {
      buf->f32.resize(n);
      buf->out.resize((e - r) * out_row);
      ConvertToF32(from, buf->raw.data(), buf->f32.data(), n);
      ConvertFromF32(to, buf->f32.data(), buf->out.data(), n);
      data = buf->out.data();
    }
    if (int64_t bad = FirstNonFinite(to, data, n); bad >= 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tensor '", in.name(), "' (from ", in.source_names(0), "): non-finite value (NaN/Inf",
          from != to ? absl::StrCat(" or overflow converting to ", Traits(to).name) : "",
          ") at row ", r + bad / cols, ", column ", bad % cols));
    }
    GLMQ_RETURN_IF_ERROR(writer->AppendTensorData({data, static_cast<size_t>((e - r) * out_row)}));
    stats->tensor_bytes_read += (e - r) * in_row;
    stats->tensor_bytes_written += (e - r) * out_row;
    progress->Update(in.name(), stats->tensor_bytes_read);
  }
  ++stats->n_tensors;
  return writer->EndTensor();
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
  for (const pb::TensorEntry& e : src->metadata().tensors()) {
    const pb::Encoding want =
        options.dtype == pb::ENCODING_UNSPECIFIED ? e.encoding() : options.dtype;
    status = ConvertTensor(*src, e, want, options, writer.get(), &progress, &buf, &stats);
    if (!status.ok()) break;
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
