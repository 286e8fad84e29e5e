// glmq convert: an HF checkpoint folder -> .glmq, lossless by default,
// through the stream of pipeline/stream.h (read ahead, cast on this thread,
// XXH64 + write behind), with the shards hashed into the provenance on a
// thread beside it (one disk pass: the stream reads through the page cache
// the hasher fills). Every value is checked for NaN/Inf. The output appears
// only when complete (GlmqWriter: temp file + rename).
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "pipeline/stream.h"
#include "schema/glmq.pb.h"

namespace glmq {

struct ConvertOptions {
  // ENCODING_UNSPECIFIED keeps each tensor's source dtype (bit-exact);
  // ENCODING_BF16 / F16 / F32 converts (round to nearest even).
  pb::Encoding dtype = pb::ENCODING_UNSPECIFIED;
  int64_t chunk_values = kStreamChunkValues;  // values per row chunk
  std::string command_line;                   // for provenance
  bool hash_sources = true;                   // XXH64 of every shard into provenance
};

struct ConvertStats {
  uint64_t tensor_bytes_read = 0;
  uint64_t tensor_bytes_written = 0;
  uint64_t file_bytes = 0;
  int n_tensors = 0;
  double seconds = 0;
};

absl::StatusOr<ConvertStats> ConvertHfToGlmq(const std::string& hf_dir,
                                             const std::string& out_path,
                                             const ConvertOptions& options);

}  // namespace glmq
