#include "schema/encodings.h"

#include "absl/strings/str_cat.h"

namespace glmq {
namespace {

const std::vector<EncodingTraits>& Table() {
  static const std::vector<EncodingTraits> table = {
      {pb::ENCODING_F32, "f32", false, 32, 0},
      {pb::ENCODING_F16, "f16", false, 16, 0},
      {pb::ENCODING_BF16, "bf16", false, 16, 0},
      {pb::ENCODING_I32, "i32", false, 32, 0},
      {pb::ENCODING_Q8_SYM, "q8", true, 8, 2, -127, 127, 0, false},
      {pb::ENCODING_Q4_SYM, "q4", true, 4, 2, -8, 7, 8, false},
      {pb::ENCODING_Q4_ASYM, "q4a", true, 4, 4, 0, 15, 0, true},
  };
  return table;
}

}  // namespace

bool DenseDType(pb::Encoding e, DType* out) {
  switch (e) {
    case pb::ENCODING_F32: *out = DType::kF32; return true;
    case pb::ENCODING_F16: *out = DType::kF16; return true;
    case pb::ENCODING_BF16: *out = DType::kBF16; return true;
    default: return false;
  }
}

const std::vector<EncodingTraits>& AllEncodings() { return Table(); }

const EncodingTraits* FindEncoding(pb::Encoding encoding) {
  for (const auto& t : Table())
    if (t.encoding == encoding) return &t;
  return nullptr;
}

const EncodingTraits* FindEncodingByName(absl::string_view name) {
  for (const auto& t : Table())
    if (t.name == name) return &t;
  return nullptr;
}

bool IsValidGroupSize(int group_size) {
  return group_size == 0 || group_size == 32 || group_size == 64 || group_size == 128 ||
         group_size == 256;
}

absl::StatusOr<uint64_t> EncodedBytes(pb::Encoding encoding, int group_size,
                                      const std::vector<int64_t>& shape) {
  const EncodingTraits* t = FindEncoding(encoding);
  if (t == nullptr)
    return absl::InvalidArgumentError(absl::StrCat("unknown encoding ", static_cast<int>(encoding)));
  uint64_t rows = 1;
  int64_t cols = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] <= 0 || shape[i] > (int64_t{1} << 40))
      return absl::InvalidArgumentError(absl::StrCat("dimension ", i, " is ", shape[i]));
    if (i + 1 < shape.size()) {
      rows *= static_cast<uint64_t>(shape[i]);
    } else {
      cols = shape[i];
    }
  }
  if (!t->quantized) return rows * static_cast<uint64_t>(cols) * (t->value_bits / 8);
  if (!IsValidGroupSize(group_size))
    return absl::InvalidArgumentError(
        absl::StrCat("group size ", group_size, " for ", t->name, " (use 0, 32, 64, 128 or 256)"));
  int64_t g = EffectiveGroupSize(group_size, cols);
  if (t->value_bits == 4 && g % 2 != 0) g += 1;  // per-row groups of odd width pad one nibble
  const uint64_t groups = static_cast<uint64_t>((cols + g - 1) / g);
  const uint64_t group_bytes = t->group_header_bytes + static_cast<uint64_t>(g) * t->value_bits / 8;
  return rows * groups * group_bytes;
}

absl::StatusOr<uint64_t> EncodedBytes(const pb::TensorEntry& entry) {
  return EncodedBytes(entry.encoding(), entry.group_size(),
                      std::vector<int64_t>(entry.shape().begin(), entry.shape().end()));
}

absl::StatusOr<GroupGeometry> GetGroupGeometry(pb::Encoding encoding, int group_size,
                                               int64_t cols) {
  const EncodingTraits* t = FindEncoding(encoding);
  if (t == nullptr || !t->quantized)
    return absl::InvalidArgumentError(
        absl::StrCat("encoding ", static_cast<int>(encoding), " is not a quantized encoding"));
  if (!IsValidGroupSize(group_size))
    return absl::InvalidArgumentError(
        absl::StrCat("group size ", group_size, " for ", t->name, " (use 0, 32, 64, 128 or 256)"));
  if (cols <= 0 || cols > (int64_t{1} << 40))
    return absl::InvalidArgumentError(absl::StrCat("row of ", cols, " values"));
  GroupGeometry geo;
  geo.traits = t;
  geo.g = EffectiveGroupSize(group_size, cols);
  if (t->value_bits == 4 && geo.g % 2 != 0) geo.g += 1;
  geo.n_groups = (cols + geo.g - 1) / geo.g;
  geo.group_bytes = t->group_header_bytes + geo.g * t->value_bits / 8;
  geo.row_bytes = geo.n_groups * geo.group_bytes;
  return geo;
}

}  // namespace glmq
