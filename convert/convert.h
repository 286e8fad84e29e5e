// HF checkpoint folder -> .glmq, lossless by default. Streams every tensor
// in row chunks (~64 MiB) through GlmqWriter, so memory stays flat whatever
// the model size (~330 MiB peak RSS on GLM-4-9B); checks every value for
// NaN/Inf. Reading/converting runs on the calling thread, XXH64 + write on a
// writer thread (convert/write_pipeline.h), shard hashing on a third; the
// output is streamed to disk with write-behind. The output appears only
// when complete (GlmqWriter: temp file + rename).
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "schema/glmq.pb.h"

namespace glmq {

struct ConvertOptions {
  // ENCODING_UNSPECIFIED keeps each tensor's source dtype (bit-exact);
  // ENCODING_BF16 / F16 / F32 converts (round to nearest even).
  pb::Encoding dtype = pb::ENCODING_UNSPECIFIED;
  uint64_t chunk_bytes = 64ull << 20;
  std::string command_line;  // for provenance
  bool hash_sources = true;  // XXH64 of every shard into provenance
};

struct ConvertStats {
  uint64_t tensor_bytes_read = 0;
  uint64_t tensor_bytes_written = 0;
  uint64_t file_bytes = 0;
  int n_tensors = 0;
  double seconds = 0;
};

// Version string recorded in provenance ("glmq 0.1.0").
std::string GlmqToolVersion();
// Current UTC time, RFC 3339 ("2025-01-31T12:34:56Z").
std::string UtcNowRfc3339();

absl::StatusOr<ConvertStats> ConvertHfToGlmq(const std::string& hf_dir,
                                             const std::string& out_path,
                                             const ConvertOptions& options);

}  // namespace glmq
