// One streaming pipeline for every command that writes a .glmq: tensors of
// a TensorSource (an HF folder or a .glmq) are read ahead in row chunks,
// transformed on the calling thread (copied, cast, rewritten and quantized
// by a QuantMethod) and written behind into a GlmqWriter. Memory is a fixed
// number of chunk buffers whatever the model's size. `glmq convert` and
// `glmq quantize` (pipeline/convert.h, pipeline/quantize.h) are two ways of
// planning the tensors of this one stream.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/status.h"
#include "core/dtype.h"
#include "format/writer.h"
#include "pipeline/source.h"
#include "quant/method.h"
#include "quant/quantize.h"
#include "schema/glmq.pb.h"

namespace glmq {

// f32 values per row chunk (64 MiB as f32; a chunk holds at least one row).
inline constexpr int64_t kStreamChunkValues = int64_t{1} << 24;

// How one tensor is streamed: copied in its stored bytes, quantized from
// its stored dense rows (QuantMethod::QuantizeRawRows), or converted to f32
// first (other methods, rewrites, dense outputs; quantized inputs are
// decoded to f32 by the reader).
struct TensorPlan {
  pb::QuantRule rule;  // the output's encoding and group size
  bool transform = false, copy = false, raw_quant = false, read_f32 = false;
  DType in_dtype = DType::kF32;  // stored dtype when dense
  int64_t rows = 0, cols = 0, chunk_rows = 1;
};

// The plan of `in` under `rule` and `method` (a method that rewrites a 1-D
// tensor keeps it in f32 so that the rewrite loses nothing), in chunks of
// about `chunk_values` values.
TensorPlan PlanTensor(const pb::TensorEntry& in, const pb::QuantRule& rule,
                      const QuantMethod& method, int64_t chunk_values = kStreamChunkValues);

// What one tensor came to.
struct TensorResult {
  QuantStats stats;    // of the quantized values (empty otherwise)
  uint64_t bytes = 0;  // bytes written
};

// Streams every tensor of src.metadata(), tensor i as plans[i], into
// `writer` (BeginTensor/EndTensor per tensor; the caller fills the
// metadata and calls Finish). Dense outputs are checked for NaN/Inf (the
// error names the tensor, its source tensor, row and column). After each
// tensor `done(i, result)` is called, on the calling thread, with the writer
// between tensors (it may add tensors of its own); its error stops the
// stream. Errors name the tensor.
absl::Status StreamTensors(const TensorSource& src, const std::vector<TensorPlan>& plans,
                           QuantMethod& method, GlmqWriter& writer,
                           const std::function<absl::Status(int, const TensorResult&)>& done);

}  // namespace glmq
