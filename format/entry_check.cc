#include "format/entry_check.h"

#include "absl/strings/str_cat.h"
#include "schema/weight.h"
#include "schema/encodings.h"

namespace glmq {

absl::StatusOr<uint64_t> CheckTensorEntry(const pb::TensorEntry& entry, absl::string_view where) {
  if (entry.name().empty())
    return absl::InvalidArgumentError(absl::StrCat(where, ": a tensor has an empty name"));
  const std::string prefix = absl::StrCat(where, ": tensor '", entry.name(), "': ");
  const EncodingTraits* enc = FindEncoding(entry.encoding());
  if (enc == nullptr)
    return absl::InvalidArgumentError(
        absl::StrCat(prefix, "unknown encoding ", static_cast<int>(entry.encoding())));
  if (entry.shape_size() < 1 || entry.shape_size() > kGlmqMaxRank)
    return absl::InvalidArgumentError(absl::StrCat(prefix, "shape has ", entry.shape_size(),
                                                   " dimensions (must be 1 to ", kGlmqMaxRank,
                                                   ")"));
  if (!enc->quantized && entry.group_size() != 0)
    return absl::InvalidArgumentError(absl::StrCat(prefix, "group_size ", entry.group_size(),
                                                   " for unquantized encoding ", enc->name,
                                                   " (must be 0)"));
  if (entry.layer() < -1)
    return absl::InvalidArgumentError(
        absl::StrCat(prefix, "layer ", entry.layer(), " (must be -1 or a block index)"));
  const std::vector<int64_t> shape(entry.shape().begin(), entry.shape().end());
  // Bound the element count before any size arithmetic can overflow.
  constexpr uint64_t kMaxNumel = uint64_t{1} << 48;
  uint64_t numel = 1;
  for (int64_t d : shape) {
    if (d <= 0 || static_cast<uint64_t>(d) > kMaxNumel / numel)
      return absl::InvalidArgumentError(
          absl::StrCat(prefix, "shape ", ShapeString(shape), " is empty or too large"));
    numel *= static_cast<uint64_t>(d);
  }
  absl::StatusOr<uint64_t> bytes = EncodedBytes(entry.encoding(), entry.group_size(), shape);
  if (!bytes.ok())
    return absl::InvalidArgumentError(absl::StrCat(prefix, "shape ", ShapeString(shape), " ",
                                                   enc->name, ": ", bytes.status().message()));
  return *bytes;
}

uint64_t TensorNumel(const pb::TensorEntry& entry) {
  if (entry.shape_size() == 0) return 0;
  uint64_t n = 1;
  for (int64_t d : entry.shape()) n *= static_cast<uint64_t>(d);
  return n;
}

}  // namespace glmq
