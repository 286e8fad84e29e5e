// The EvalResult `glmq eval ppl|kld --record` stores in the model's .glmq
// (format/record.h): the numbers, and what is needed to reproduce them:
// the text's checksum, the reference's checksum, the protocol (window,
// stride, scoring, KV type, chunk), the glmq version and the device.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "runtime/eval.h"
#include "schema/glmq.pb.h"

namespace glmq {

struct EvalContext {
  std::string text_name;    // the --text path as given
  uint64_t text_xxh64 = 0;  // XXH64 of its bytes
  std::string score;        // "all" | "second-half"
  std::string kv;           // --kv
  int64_t chunk = 0;        // --chunk
  std::string device;       // Backend::name()
  bool special = false;     // --special
};

// "ctx=256 stride=0 score=all kv=f32 chunk=512 special=0 windows=W tokens=N".
std::string EvalProtocol(const PplOptions& options, const EvalContext& c, int64_t windows,
                         int64_t tokens);

// kind "ppl": values ppl, ppl_stderr, mean_nll, mean_nll_stderr, scored_tokens,
// non_finite.
pb::EvalResult PplEvalResult(const PplResult& r, const PplOptions& options, const EvalContext& c);

// kind "kld": values mean_kld, kld_stderr, kld_p99_9, kld_max,
// top1_agreement, ref_ppl, model_ppl, ppl_ratio, positions; the reference
// (a .glmq: its metadata checksum; saved logits: the file's XXH64).
pb::EvalResult KldEvalResult(const KldResult& r, const PplOptions& options, const EvalContext& c,
                             const std::string& reference_name, uint64_t reference_xxh64);

// XXH64 of a whole file (the saved reference logits), read through the
// mapping a page range at a time.
absl::StatusOr<uint64_t> FileXxh64(const std::string& path);

}  // namespace glmq
