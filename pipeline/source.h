// TensorSource: streams canonical tensors (specs/glm4-tensors.md) row chunk
// by row chunk from an HF checkpoint folder or from a .glmq file, so that
// convert, quantize and calibrate never hold a whole model in memory.
// Thread-safe for concurrent reads after opening.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/direct_read.h"
#include "schema/glmq.pb.h"
#include "schema/weight.h"

namespace glmq {

class TensorSource {
 public:
  virtual ~TensorSource() = default;

  // hparams, verbatim config / generation config, tokenizer, provenance, and
  // `tensors`: the canonical entries in canonical order, with encoding = the
  // stored encoding and source_names; offset/size/xxh64 are those of the
  // .glmq for a .glmq source and unset for an HF source.
  virtual const pb::ModelMetadata& metadata() const = 0;

  // Copies rows [row_begin, row_end) of `entry` (one of metadata().tensors())
  // in its stored encoding into `out` (RowBytes(entry) * rows bytes). Rows =
  // product of all dims but the last; a 1-D tensor is one row.
  virtual absl::Status ReadRowsRaw(const pb::TensorEntry& entry, int64_t row_begin,
                                   int64_t row_end, uint8_t* out) const = 0;

  // The same bytes as ReadRowsRaw, read into `buf` and returned as a span
  // inside it (valid until `buf` is reused). The .glmq and HF sources read
  // them with O_DIRECT where the file system allows (core/direct_read.h):
  // no page-cache copy in the kernel, nothing left in the page cache, and no
  // copy in user space for rows that lie in one file range. For streaming
  // a model once (glmq quantize); ReadRowsRaw goes through the page cache.
  virtual absl::StatusOr<absl::Span<const uint8_t>> ReadRowsInto(const pb::TensorEntry& entry,
                                                                 int64_t row_begin, int64_t row_end,
                                                                 AlignedBuffer* buf) const;

  // The same rows as f32 ([rows, cols] row-major): f16/bf16 converted,
  // quantized (q8/q4/q4a) .glmq tensors decoded with quant/dequantize.h
  // (bit-identical to DequantizeTensor of the whole tensor).
  absl::Status ReadRowsF32(const pb::TensorEntry& entry, int64_t row_begin, int64_t row_end,
                           float* out) const;

  // The first metadata().tensors() entry of that name, or nullptr.
  const pb::TensorEntry* FindTensor(absl::string_view name) const;
};

// An HF source additionally hashes its shards on request: Open() hashes the
// small files only (hashing 19 GB of shards is a full read of the model).
class HfTensorSource : public TensorSource {
 public:
  // Computes the XXH64 of every shard into metadata().provenance, reading
  // each shard sequentially; `progress(bytes)` gets bytes hashed so far.
  // Not to be called concurrently with metadata().
  virtual absl::Status HashShards(const std::function<void(uint64_t)>& progress) = 0;
  // Total bytes of the shards.
  virtual uint64_t shard_bytes() const = 0;
};

// Opens an HF checkpoint folder (validating it; see hf_checkpoint.h) and maps
// its tensors onto canonical ones. Vision models are rejected. `direct_io`
// = false makes ReadRowsInto use pread (DirectReader's fallback).
absl::StatusOr<std::unique_ptr<HfTensorSource>> OpenHfCheckpoint(const std::string& dir,
                                                                 bool direct_io = true);

// Opens a .glmq file through GlmqFile (validated there); `direct_io` as above.
absl::StatusOr<std::unique_ptr<TensorSource>> OpenGlmqSource(const std::string& path,
                                                             bool direct_io = true);

}  // namespace glmq
