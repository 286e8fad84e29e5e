#include "runtime/sequence_logits.h"

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "runtime/npy.h"

namespace glmq {

absl::Status WriteSequenceLogits(Session& session, absl::Span<const int32_t> ids, int64_t last,
                                 const std::string& npy_path) {
  const int64_t n = static_cast<int64_t>(ids.size());
  if (last < 0 || last > n)
    return absl::InvalidArgumentError(
        absl::StrCat("last ", last, " rows of a sequence of ", n, " tokens"));
  const int64_t rows = last == 0 ? n : last;
  GLMQ_ASSIGN_OR_RETURN(
      std::unique_ptr<NpyF32Writer> out,
      NpyF32Writer::Create(npy_path, rows, session.model().hparams().padded_vocab_size()));
  GLMQ_RETURN_IF_ERROR(session.ForwardLogits(
      ids, n - rows, [&](int64_t, absl::Span<const float> logits) { return out->Append(logits); }));
  return out->Finish();
}

}  // namespace glmq
