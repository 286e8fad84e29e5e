#include "export/gguf_reader.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/status.h"

namespace glmq::gguf {
namespace {

// GGML_MAX_DIMS and GGML_MAX_NAME (names are stored NUL-terminated in 64 bytes).
constexpr uint32_t kMaxDims = 4;
constexpr uint64_t kMaxNameBytes = 63;
constexpr uint64_t kMaxAlignment = 1u << 20;

const std::vector<BlockLayout>& BlockLayouts() {
  // ggml/src/ggml-common.h block structs; dense types are blocks of 1.
  static const auto* t = new std::vector<BlockLayout>{
      {0, "F32", 1, 4},         {1, "F16", 1, 2},       {2, "Q4_0", 32, 18},
      {3, "Q4_1", 32, 20},      {6, "Q5_0", 32, 22},    {7, "Q5_1", 32, 24},
      {8, "Q8_0", 32, 34},      {9, "Q8_1", 32, 36},    {10, "Q2_K", 256, 84},
      {11, "Q3_K", 256, 110},   {12, "Q4_K", 256, 144}, {13, "Q5_K", 256, 176},
      {14, "Q6_K", 256, 210},   {15, "Q8_K", 256, 292}, {20, "IQ4_NL", 32, 18},
      {23, "IQ4_XS", 256, 136}, {24, "I8", 1, 1},       {25, "I16", 1, 2},
      {26, "I32", 1, 4},        {27, "I64", 1, 8},      {28, "F64", 1, 8},
      {30, "BF16", 1, 2},
  };
  return *t;
}

}  // namespace

const BlockLayout* FindBlockLayout(uint32_t ggml_type) {
  for (const BlockLayout& b : BlockLayouts()) {
    if (b.type == ggml_type) return &b;
  }
  return nullptr;
}

// Bounds-checked little-endian reads over the input; every error says what
// was being read and at which offset.
class Cursor {
 public:
  Cursor(absl::Span<const uint8_t> b, const std::string& file) : b_(b), file_(file) {}
  uint64_t pos() const { return pos_; }
  uint64_t left() const { return b_.size() - pos_; }

  absl::Status Bytes(void* out, uint64_t n, absl::string_view what) {
    if (n > left()) {
      return absl::InvalidArgumentError(absl::StrCat(file_, ": ", what, " at offset ", pos_,
                                                     " needs ", n, " bytes, ", left(),
                                                     " left (truncated file?)"));
    }
    std::memcpy(out, b_.data() + pos_, n);
    pos_ += n;
    return absl::OkStatus();
  }
  template <typename T>
  absl::StatusOr<T> Read(absl::string_view what) {
    T v{};
    GLMQ_RETURN_IF_ERROR(Bytes(&v, sizeof(T), what));
    return v;
  }
  absl::StatusOr<std::string> String(absl::string_view what, uint64_t max_len = UINT64_MAX) {
    GLMQ_ASSIGN_OR_RETURN(uint64_t n, Read<uint64_t>(absl::StrCat(what, " length")));
    if (n > left() || n > max_len) {
      return absl::InvalidArgumentError(
          absl::StrCat(file_, ": ", what, " at offset ", pos_ - 8, " has length ", n,
                       n > left() ? absl::StrCat(", beyond the ", left(), " bytes left")
                                  : absl::StrCat(", over the limit of ", max_len)));
    }
    std::string s(reinterpret_cast<const char*>(b_.data() + pos_), n);
    pos_ += n;
    return s;
  }

 private:
  absl::Span<const uint8_t> b_;
  const std::string& file_;
  uint64_t pos_ = 0;
};

namespace {

absl::Status ReadScalar(Cursor& c, ValueType t, const std::string& what, Value* v) {
  switch (t) {
#define GLMQ_INT(E, T)                           \
  case ValueType::E: {                           \
    GLMQ_ASSIGN_OR_RETURN(T x, c.Read<T>(what)); \
    v->i = static_cast<int64_t>(x);              \
    v->u = static_cast<uint64_t>(x);             \
    return absl::OkStatus();                     \
  }
    GLMQ_INT(kU8, uint8_t)
    GLMQ_INT(kI8, int8_t)
    GLMQ_INT(kU16, uint16_t)
    GLMQ_INT(kI16, int16_t)
    GLMQ_INT(kU32, uint32_t)
    GLMQ_INT(kI32, int32_t)
    GLMQ_INT(kU64, uint64_t)
    GLMQ_INT(kI64, int64_t)
#undef GLMQ_INT
    case ValueType::kBool: {
      GLMQ_ASSIGN_OR_RETURN(uint8_t x, c.Read<uint8_t>(what));
      if (x > 1) return absl::InvalidArgumentError(absl::StrCat(what, ": bool value ", x));
      v->i = x;
      return absl::OkStatus();
    }
    case ValueType::kF32: {
      GLMQ_ASSIGN_OR_RETURN(float x, c.Read<float>(what));
      v->f = x;
      return absl::OkStatus();
    }
    case ValueType::kF64: {
      GLMQ_ASSIGN_OR_RETURN(double x, c.Read<double>(what));
      v->f = x;
      return absl::OkStatus();
    }
    case ValueType::kString: {
      GLMQ_ASSIGN_OR_RETURN(v->s, c.String(what));
      return absl::OkStatus();
    }
    case ValueType::kArray:
      break;
  }
  return absl::InternalError("ReadScalar: array");
}

absl::Status ReadArray(Cursor& c, const std::string& file, const std::string& key, Value* v) {
  const std::string what = absl::StrCat("key '", key, "' array");
  GLMQ_ASSIGN_OR_RETURN(uint32_t et, c.Read<uint32_t>(what + " element type"));
  if (!IsValidValueType(et) || et == static_cast<uint32_t>(ValueType::kArray)) {
    return absl::InvalidArgumentError(
        absl::StrCat(file, ": ", what, " has element type ", et,
                     et == 9 ? " (nested arrays are not supported)" : " (unknown)"));
  }
  v->elem_type = static_cast<ValueType>(et);
  GLMQ_ASSIGN_OR_RETURN(v->count, c.Read<uint64_t>(what + " count"));
  // Every element takes at least 1 byte (a string at least 8): bound the
  // count by the bytes left before reserving anything.
  const uint64_t min_bytes = v->elem_type == ValueType::kString ? 8 : ScalarBytes(v->elem_type);
  if (v->count > c.left() / min_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        file, ": ", what, " count ", v->count, " does not fit in the ", c.left(), " bytes left"));
  }
  const bool is_float = v->elem_type == ValueType::kF32 || v->elem_type == ValueType::kF64;
  if (v->elem_type == ValueType::kString)
    v->strings.reserve(v->count);
  else if (is_float)
    v->floats.reserve(v->count);
  else
    v->ints.reserve(v->count);
  Value e;
  for (uint64_t k = 0; k < v->count; ++k) {
    GLMQ_RETURN_IF_ERROR(
        Annotate(ReadScalar(c, v->elem_type, absl::StrCat(what, "[", k, "]"), &e), file));
    if (v->elem_type == ValueType::kString)
      v->strings.push_back(std::move(e.s));
    else if (is_float)
      v->floats.push_back(e.f);
    else
      v->ints.push_back(e.i);
  }
  return absl::OkStatus();
}

// Product of ne[1..] times the bytes of a row, overflow-checked; 0 on error.
bool TensorBytes(const std::vector<int64_t>& ne, const BlockLayout& b, uint64_t* out) {
  if (ne[0] % b.block_values != 0) return false;
  uint64_t bytes = static_cast<uint64_t>(ne[0] / b.block_values) * b.block_bytes;
  for (size_t d = 1; d < ne.size(); ++d) {
    if (bytes > UINT64_MAX / static_cast<uint64_t>(ne[d])) return false;
    bytes *= static_cast<uint64_t>(ne[d]);
  }
  *out = bytes;
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<GgufFile>> GgufFile::Open(const std::string& path) {
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<MappedFile> m, MappedFile::Open(path));
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->name_ = path;
  f->bytes_ = m->span();
  f->file_ = std::move(m);
  GLMQ_RETURN_IF_ERROR(f->ParseAll());
  return f;
}

absl::StatusOr<std::unique_ptr<GgufFile>> GgufFile::Parse(absl::Span<const uint8_t> bytes,
                                                          const std::string& name) {
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->name_ = name;
  f->bytes_ = bytes;
  GLMQ_RETURN_IF_ERROR(f->ParseAll());
  return f;
}

absl::Status GgufFile::ParseAll() {
  Cursor c(bytes_, name_);
  GLMQ_ASSIGN_OR_RETURN(uint32_t magic, c.Read<uint32_t>("magic"));
  if (magic != kMagic) {
    return absl::InvalidArgumentError(
        absl::StrCat(name_, ": not a GGUF file (magic is not 'GGUF')"));
  }
  GLMQ_ASSIGN_OR_RETURN(version_, c.Read<uint32_t>("version"));
  if (version_ != 2 && version_ != 3) {
    return absl::InvalidArgumentError(
        absl::StrCat(name_, ": GGUF version ", version_, "; glmq reads versions 2 and 3"));
  }
  GLMQ_ASSIGN_OR_RETURN(uint64_t n_tensors, c.Read<uint64_t>("tensor_count"));
  GLMQ_ASSIGN_OR_RETURN(uint64_t n_kv, c.Read<uint64_t>("kv_count"));
  // A key-value pair takes at least 8 + 4 bytes, a tensor info 8 + 4 + 8 + 4 + 8.
  if (n_kv > c.left() / 12) {
    return absl::InvalidArgumentError(
        absl::StrCat(name_, ": kv_count ", n_kv, " does not fit in the file"));
  }
  if (n_tensors > c.left() / 32) {
    return absl::InvalidArgumentError(
        absl::StrCat(name_, ": tensor_count ", n_tensors, " does not fit in the file"));
  }
  GLMQ_RETURN_IF_ERROR(ParseKvs(c, n_kv));
  GLMQ_RETURN_IF_ERROR(ParseTensorInfos(c, n_tensors));
  // The data section starts at the next multiple of the alignment.
  const uint64_t pad = (alignment_ - c.pos() % alignment_) % alignment_;
  if (pad > c.left()) {
    return absl::InvalidArgumentError(absl::StrCat(
        name_, ": the file ends inside the padding before the tensor data (offset ", c.pos(), ")"));
  }
  data_offset_ = c.pos() + pad;
  return CheckTensorData();
}

absl::Status GgufFile::ParseKvs(Cursor& c, uint64_t n_kv) {
  kvs_.reserve(n_kv);
  for (uint64_t k = 0; k < n_kv; ++k) {
    GLMQ_ASSIGN_OR_RETURN(std::string key, c.String(absl::StrCat("key of kv ", k)));
    if (key.empty())
      return absl::InvalidArgumentError(absl::StrCat(name_, ": kv ", k, " has an empty key"));
    if (kv_index_.contains(key)) {
      return absl::InvalidArgumentError(absl::StrCat(name_, ": key '", key, "' appears twice"));
    }
    GLMQ_ASSIGN_OR_RETURN(uint32_t t, c.Read<uint32_t>(absl::StrCat("key '", key, "' type")));
    if (!IsValidValueType(t)) {
      return absl::InvalidArgumentError(
          absl::StrCat(name_, ": key '", key, "' has unknown value type ", t));
    }
    Value v;
    v.type = static_cast<ValueType>(t);
    if (v.type == ValueType::kArray) {
      GLMQ_RETURN_IF_ERROR(ReadArray(c, name_, key, &v));
    } else {
      GLMQ_RETURN_IF_ERROR(
          Annotate(ReadScalar(c, v.type, absl::StrCat("key '", key, "' value"), &v), name_));
    }
    kv_index_[key] = static_cast<int>(kvs_.size());
    kvs_.emplace_back(std::move(key), std::move(v));
  }
  if (const Value* a = Find("general.alignment")) {
    if (a->type != ValueType::kU32 || a->u == 0 || (a->u & (a->u - 1)) != 0 ||
        a->u > kMaxAlignment) {
      return absl::InvalidArgumentError(
          absl::StrCat(name_, ": key 'general.alignment' must be a u32 power of two up to 1 MiB"));
    }
    alignment_ = static_cast<uint32_t>(a->u);
  }
  return absl::OkStatus();
}

absl::Status GgufFile::ParseTensorInfos(Cursor& c, uint64_t n_tensors) {
  tensors_.reserve(n_tensors);
  for (uint64_t k = 0; k < n_tensors; ++k) {
    TensorInfo t;
    GLMQ_ASSIGN_OR_RETURN(t.name, c.String(absl::StrCat("name of tensor ", k), kMaxNameBytes));
    const std::string w = absl::StrCat(name_, ": tensor '", t.name, "'");
    if (t.name.empty())
      return absl::InvalidArgumentError(absl::StrCat(w, " (", k, ") has an empty name"));
    if (tensor_index_.contains(t.name)) return absl::InvalidArgumentError(w + " appears twice");
    GLMQ_ASSIGN_OR_RETURN(uint32_t n_dims, c.Read<uint32_t>(w + " n_dims"));
    if (n_dims == 0 || n_dims > kMaxDims) {
      return absl::InvalidArgumentError(absl::StrCat(w, ": n_dims ", n_dims, " (must be 1..4)"));
    }
    for (uint32_t d = 0; d < n_dims; ++d) {
      GLMQ_ASSIGN_OR_RETURN(int64_t ne, c.Read<int64_t>(w + " dimension"));
      if (ne <= 0 || ne > (int64_t{1} << 48)) {
        return absl::InvalidArgumentError(absl::StrCat(w, ": dimension ", d, " is ", ne));
      }
      t.ne.push_back(ne);
    }
    GLMQ_ASSIGN_OR_RETURN(t.type, c.Read<uint32_t>(w + " type"));
    GLMQ_ASSIGN_OR_RETURN(t.offset, c.Read<uint64_t>(w + " offset"));
    const BlockLayout* b = FindBlockLayout(t.type);
    if (b == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(w, ": unknown ggml type ", t.type));
    }
    if (!TensorBytes(t.ne, *b, &t.size)) {
      return absl::InvalidArgumentError(
          absl::StrCat(w, ": ", t.ne[0], " values per row is not a multiple of ", b->name,
                       "'s block of ", b->block_values, ", or the size overflows"));
    }
    if (t.offset % alignment_ != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          w, ": offset ", t.offset, " is not a multiple of the alignment ", alignment_));
    }
    tensor_index_[t.name] = static_cast<int>(tensors_.size());
    tensors_.push_back(std::move(t));
  }
  return absl::OkStatus();
}

absl::Status GgufFile::CheckTensorData() {
  const uint64_t data_size = bytes_.size() - data_offset_;
  std::vector<const TensorInfo*> by_offset;
  for (const TensorInfo& t : tensors_) {
    if (t.offset > data_size || t.size > data_size - t.offset) {
      return absl::InvalidArgumentError(absl::StrCat(
          name_, ": tensor '", t.name, "' [", t.offset, ", +", t.size,
          ") lies beyond the end of the data section (", data_size, " bytes; truncated file?)"));
    }
    by_offset.push_back(&t);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorInfo* a, const TensorInfo* b) { return a->offset < b->offset; });
  for (size_t k = 1; k < by_offset.size(); ++k) {
    const TensorInfo& a = *by_offset[k - 1];
    if (a.offset + a.size > by_offset[k]->offset) {
      return absl::InvalidArgumentError(
          absl::StrCat(name_, ": tensors '", a.name, "' and '", by_offset[k]->name, "' overlap"));
    }
  }
  return absl::OkStatus();
}

const Value* GgufFile::Find(absl::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kvs_[it->second].second;
}

const TensorInfo* GgufFile::FindTensor(absl::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

absl::Span<const uint8_t> GgufFile::TensorData(const TensorInfo& t) const {
  return bytes_.subspan(data_offset_ + t.offset, t.size);
}

namespace {
absl::Status KeyError(const std::string& file, absl::string_view key, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(file, ": key '", key, "' ", what));
}
bool IsInt(ValueType t) {
  return t != ValueType::kF32 && t != ValueType::kF64 && t != ValueType::kString &&
         t != ValueType::kArray && t != ValueType::kBool;
}
}  // namespace

absl::StatusOr<std::string> GgufFile::GetString(absl::string_view key) const {
  const Value* v = Find(key);
  if (v == nullptr) return KeyError(name_, key, "is missing");
  if (v->type != ValueType::kString) return KeyError(name_, key, "is not a string");
  return v->s;
}

absl::StatusOr<int64_t> GgufFile::GetInt(absl::string_view key) const {
  const Value* v = Find(key);
  if (v == nullptr) return KeyError(name_, key, "is missing");
  if (!IsInt(v->type)) return KeyError(name_, key, "is not an integer");
  if (v->type == ValueType::kU64 && v->u > static_cast<uint64_t>(INT64_MAX)) {
    return KeyError(name_, key, "is out of range");
  }
  return v->i;
}

absl::StatusOr<double> GgufFile::GetFloat(absl::string_view key) const {
  const Value* v = Find(key);
  if (v == nullptr) return KeyError(name_, key, "is missing");
  if (v->type != ValueType::kF32 && v->type != ValueType::kF64) {
    return KeyError(name_, key, "is not a float");
  }
  return v->f;
}

absl::StatusOr<const Value*> GgufFile::GetArray(absl::string_view key, ValueType elem) const {
  const Value* v = Find(key);
  if (v == nullptr) return KeyError(name_, key, "is missing");
  if (v->type != ValueType::kArray) return KeyError(name_, key, "is not an array");
  const bool ok = elem == ValueType::kString ? v->elem_type == ValueType::kString
                  : IsInt(elem)              ? IsInt(v->elem_type)
                                             : v->elem_type == elem;
  if (!ok) return KeyError(name_, key, "has the wrong element type");
  return v;
}

}  // namespace glmq::gguf
