#include "format/finite_check.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "schema/encodings.h"
#include "schema/weight.h"

namespace glmq {

FiniteScan::FiniteScan(const pb::TensorEntry& entry) : entry_(entry) {
  cols_ = std::max<int64_t>(1, TensorCols(entry));
  if (DenseDType(entry.encoding(), &dtype_)) {
    dense_ = dtype_ == DType::kF32 || dtype_ == DType::kF16 || dtype_ == DType::kBF16;
    elem_ = DTypeSize(dtype_);
    return;
  }
  auto geo = GetGroupGeometry(entry.encoding(), entry.group_size(), cols_);
  if (!geo.ok()) return;
  quantized_ = true;
  q8_ = entry.encoding() == pb::ENCODING_Q8_SYM;
  group_bytes_ = geo->group_bytes;
  header_bytes_ = geo->traits->group_header_bytes;
  groups_per_row_ = geo->n_groups;
}

absl::Status FiniteScan::Bad(uint64_t index, bool group) const {
  if (group) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tensor '", entry_.name(), "': non-finite (NaN/Inf) scale or min in group ",
        index % groups_per_row_, " of row ", index / groups_per_row_));
  }
  return absl::InvalidArgumentError(absl::StrCat("tensor '", entry_.name(),
                                                 "': non-finite value (NaN/Inf) at row ",
                                                 index / cols_, ", column ", index % cols_));
}

absl::Status FiniteScan::FeedDense(const uint8_t* p, uint64_t n) {
  uint64_t done = 0;
  const uint64_t partial = pos_ % elem_;
  if (partial != 0) {  // complete the value split by the previous call
    const uint64_t take = std::min(n, elem_ - partial);
    std::memcpy(carry_ + partial, p, take);
    done = take;
    if (partial + take == elem_ && FirstNonFinite(dtype_, carry_, 1) == 0)
      return Bad(pos_ / elem_, false);
  }
  const uint64_t whole = (n - done) / elem_;
  if (const int64_t bad = FirstNonFinite(dtype_, p + done, static_cast<int64_t>(whole));
      bad >= 0) {
    return Bad((pos_ + done) / elem_ + bad, false);
  }
  done += whole * elem_;
  std::memcpy(carry_, p + done, n - done);  // < elem_ bytes left
  return absl::OkStatus();
}

absl::Status FiniteScan::FeedGroups(const uint8_t* p, uint64_t n) {
  const uint64_t end = pos_ + n;
  for (uint64_t g = pos_ / group_bytes_; g * group_bytes_ < end; ++g) {
    const uint64_t hb = g * group_bytes_, he = hb + header_bytes_;
    if (he <= pos_) continue;  // this group's header was checked already
    if (hb >= pos_ && he <= end) {  // the whole header in this chunk: f16 bits in place
      for (uint64_t b = 0; b < header_bytes_; b += 2) {
        uint16_t h;
        std::memcpy(&h, p + (hb - pos_) + b, 2);
        if ((h & 0x7c00) == 0x7c00) return Bad(g, true);
      }
      continue;
    }
    const uint64_t from = std::max(hb, pos_), to = std::min(he, end);
    std::memcpy(carry_ + (from - hb), p + (from - pos_), to - from);
    if (he <= end && FirstNonFinite(DType::kF16, carry_, header_bytes_ / 2) >= 0)
      return Bad(g, true);
  }
  return q8_ ? FeedQ8Codes(p, n) : absl::OkStatus();
}

// q8 codes are in [-127, 127] (specs/encodings.md): the kernels take |w| and
// negate, which -128 overflows. A file holding it would compute wrong
// values silently, so no path may write one. Every 0x80 byte of the chunk,
// skipping those in group headers (an f16 scale may hold one).
absl::Status FiniteScan::FeedQ8Codes(const uint8_t* p, uint64_t n) const {
  for (const uint8_t *q = p, *e = p + n;
       (q = static_cast<const uint8_t*>(std::memchr(q, 0x80, e - q))) != nullptr; ++q) {
    const uint64_t at = pos_ + (q - p), g = at / group_bytes_;
    if (at - g * group_bytes_ < header_bytes_) continue;
    return absl::InvalidArgumentError(
        absl::StrCat("tensor '", entry_.name(), "': q8 code -128 in group ", g % groups_per_row_,
                     " of row ", g / groups_per_row_, " (q8 codes are in [-127, 127])"));
  }
  return absl::OkStatus();
}

absl::Status FiniteScan::Feed(absl::Span<const uint8_t> data) {
  absl::Status s;
  if (dense_) s = FeedDense(data.data(), data.size());
  else if (quantized_ && group_bytes_ > 0) s = FeedGroups(data.data(), data.size());
  pos_ += data.size();
  return s;
}

}  // namespace glmq
