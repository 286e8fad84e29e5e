#include "runtime/weights.h"

#include "absl/strings/str_cat.h"
#include "core/dtype.h"

namespace glmq {

void InMemoryWeightSource::AddF32(const std::string& name, std::vector<int64_t> shape,
                                  const std::vector<float>& v) {
  AddEncoded(name, pb::ENCODING_F32, 0, std::move(shape),
             std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float)));
}

void InMemoryWeightSource::AddBf16(const std::string& name, std::vector<int64_t> shape,
                                   const std::vector<float>& v) {
  std::string bytes(v.size() * 2, '\0');
  ConvertFromF32(DType::kBF16, v.data(), bytes.data(), static_cast<int64_t>(v.size()));
  AddEncoded(name, pb::ENCODING_BF16, 0, std::move(shape), std::move(bytes));
}

void InMemoryWeightSource::AddEncoded(const std::string& name, pb::Encoding encoding,
                                      int32_t group_size, std::vector<int64_t> shape,
                                      std::string bytes) {
  tensors_[name] = Entry{encoding, group_size, Shape(shape.begin(), shape.end()),
                        std::move(bytes)};
}

absl::StatusOr<WeightView> InMemoryWeightSource::Find(absl::string_view name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) {
    return absl::NotFoundError(absl::StrCat("in-memory weights: no tensor '", name, "'"));
  }
  const Entry& e = it->second;
  return MakeWeightView(it->first, e.encoding, e.group_size, e.shape, e.bytes.data(),
                        e.bytes.size());
}

}  // namespace glmq
