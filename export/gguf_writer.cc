#include "export/gguf_writer.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/status.h"

namespace glmq::gguf {
namespace {

template <typename T>
void Put(std::string* s, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  s->append(b, sizeof(T));
}

void PutString(std::string* s, absl::string_view v) {
  Put<uint64_t>(s, v.size());
  s->append(v.data(), v.size());
}

}  // namespace

void GgufWriter::Key(absl::string_view key, ValueType t) {
  PutString(&kv_, key);
  Put<uint32_t>(&kv_, static_cast<uint32_t>(t));
  ++n_kv_;
}

void GgufWriter::AddString(absl::string_view key, absl::string_view value) {
  Key(key, ValueType::kString);
  PutString(&kv_, value);
}

void GgufWriter::AddU32(absl::string_view key, uint32_t value) {
  Key(key, ValueType::kU32);
  Put(&kv_, value);
}

void GgufWriter::AddF32(absl::string_view key, float value) {
  Key(key, ValueType::kF32);
  Put(&kv_, value);
}

void GgufWriter::AddBool(absl::string_view key, bool value) {
  Key(key, ValueType::kBool);
  Put<uint8_t>(&kv_, value ? 1 : 0);
}

void GgufWriter::AddStringArray(absl::string_view key, const std::vector<std::string>& values) {
  Key(key, ValueType::kArray);
  Put<uint32_t>(&kv_, static_cast<uint32_t>(ValueType::kString));
  Put<uint64_t>(&kv_, values.size());
  for (const std::string& v : values) PutString(&kv_, v);
}

void GgufWriter::AddI32Array(absl::string_view key, const std::vector<int32_t>& values) {
  Key(key, ValueType::kArray);
  Put<uint32_t>(&kv_, static_cast<uint32_t>(ValueType::kI32));
  Put<uint64_t>(&kv_, values.size());
  for (int32_t v : values) Put(&kv_, v);
}

absl::StatusOr<uint64_t> GgufWriter::AddTensor(absl::string_view name,
                                               const std::vector<int64_t>& shape,
                                               const TensorTypeTraits& type) {
  if (shape.empty() || shape.size() > 4) {
    return absl::InvalidArgumentError(absl::StrCat("tensor '", name, "': GGUF takes 1 to 4 dims"));
  }
  Pending p{std::string(name), {shape.rbegin(), shape.rend()}, static_cast<uint32_t>(type.type), 0};
  p.size = TypeRowBytes(type, p.ne[0]);
  if (p.size == 0) {
    return absl::InvalidArgumentError(absl::StrCat("tensor '", name, "': row of ", p.ne[0],
                                                   " values is not a multiple of ", type.name,
                                                   "'s block of ", type.block_values));
  }
  for (size_t d = 1; d < p.ne.size(); ++d) p.size *= p.ne[d];
  tensors_.push_back(std::move(p));
  return tensors_.back().size;
}

absl::Status GgufWriter::Start(const std::string& path) {
  GLMQ_ASSIGN_OR_RETURN(out_, AtomicOutputFile::Create(path));
  std::string h;
  Put<uint32_t>(&h, kMagic);
  Put<uint32_t>(&h, kVersion);
  Put<uint64_t>(&h, tensors_.size());
  Put<uint64_t>(&h, n_kv_);
  h += kv_;
  uint64_t offset = 0;
  for (const Pending& p : tensors_) {
    PutString(&h, p.name);
    Put<uint32_t>(&h, static_cast<uint32_t>(p.ne.size()));
    for (int64_t ne : p.ne) Put<int64_t>(&h, ne);
    Put<uint32_t>(&h, p.type);
    Put<uint64_t>(&h, offset);
    offset += (p.size + kDefaultAlignment - 1) / kDefaultAlignment * kDefaultAlignment;
  }
  GLMQ_RETURN_IF_ERROR(out_->Write(h));
  return out_->PadTo(kDefaultAlignment);
}

absl::Status GgufWriter::Write(const uint8_t* data, uint64_t n) {
  while (n > 0) {
    if (current_ >= tensors_.size()) {
      return absl::InternalError("GgufWriter: more bytes than the declared tensors hold");
    }
    const uint64_t take = std::min(n, tensors_[current_].size - current_done_);
    GLMQ_RETURN_IF_ERROR(out_->Write(data, take));
    data += take;
    n -= take;
    current_done_ += take;
    if (current_done_ == tensors_[current_].size) {
      GLMQ_RETURN_IF_ERROR(out_->PadTo(kDefaultAlignment));
      ++current_;
      current_done_ = 0;
    }
  }
  return absl::OkStatus();
}

absl::Status GgufWriter::Finish() {
  if (current_ != tensors_.size()) {
    return absl::InternalError(absl::StrCat("GgufWriter: tensor '", tensors_[current_].name,
                                            "' did not receive all its bytes"));
  }
  return out_->Commit();
}

}  // namespace glmq::gguf
