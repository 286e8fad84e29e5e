#include "pipeline/verified_source.h"

#include <mutex>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "core/checksum.h"
#include "core/status.h"

namespace glmq {
namespace {

class Verifying : public TensorSource {
 public:
  explicit Verifying(std::unique_ptr<TensorSource> inner) : inner_(std::move(inner)) {}
  const pb::ModelMetadata& metadata() const override { return inner_->metadata(); }

  absl::Status ReadRowsRaw(const pb::TensorEntry& entry, int64_t row_begin, int64_t row_end,
                           uint8_t* out) const override {
    GLMQ_RETURN_IF_ERROR(inner_->ReadRowsRaw(entry, row_begin, row_end, out));
    GLMQ_ASSIGN_OR_RETURN(const uint64_t row_bytes, RowBytes(entry));
    return Hash(entry, row_begin, row_end, {out, row_bytes * (row_end - row_begin)});
  }

  absl::StatusOr<absl::Span<const uint8_t>> ReadRowsInto(const pb::TensorEntry& entry,
                                                         int64_t row_begin, int64_t row_end,
                                                         AlignedBuffer* buf) const override {
    GLMQ_ASSIGN_OR_RETURN(absl::Span<const uint8_t> got,
                          inner_->ReadRowsInto(entry, row_begin, row_end, buf));
    GLMQ_RETURN_IF_ERROR(Hash(entry, row_begin, row_end, got));
    return got;
  }

 private:
  struct Progress {
    Xxh64 hash;
    int64_t next_row = 0;
  };

  absl::Status Hash(const pb::TensorEntry& entry, int64_t row_begin, int64_t row_end,
                    absl::Span<const uint8_t> bytes) const {
    std::lock_guard<std::mutex> lock(mu_);
    Progress& p = progress_[entry.name()];
    if (row_begin == 0) p = Progress();
    if (row_begin != p.next_row) return absl::OkStatus();  // out of order: not verifiable
    p.hash.Update(bytes.data(), bytes.size());
    p.next_row = row_end;
    if (row_end < TensorRows(entry)) return absl::OkStatus();
    const uint64_t got = p.hash.Digest();
    p.next_row = -1;  // done; a new pass starts at row 0
    if (got == entry.xxh64()) return absl::OkStatus();
    return absl::DataLossError(absl::StrCat("tensor '", entry.name(),
                                            "': checksum mismatch (stored ",
                                            HexU64(entry.xxh64()), ", computed ", HexU64(got),
                                            "): the input file is damaged"));
  }

  std::unique_ptr<TensorSource> inner_;
  mutable std::mutex mu_;
  mutable absl::flat_hash_map<std::string, Progress> progress_;
};

}  // namespace

std::unique_ptr<TensorSource> VerifyingSource(std::unique_ptr<TensorSource> inner) {
  return std::make_unique<Verifying>(std::move(inner));
}

}  // namespace glmq
