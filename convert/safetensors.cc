#include "convert/safetensors.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/json.h"
#include "schema/weight.h"
#include "core/status.h"

namespace glmq {
namespace {

absl::Status Bad(const std::string& path, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", what));
}

absl::Status BadTensor(const std::string& path, absl::string_view name, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": tensor '", name, "': ", what));
}

// Parses one header entry into `t` (offsets still relative to the data section).
absl::Status ParseEntry(const std::string& path, const std::string& name, const Json& v,
                        uint64_t data_size, SafetensorsTensor* t) {
  t->name = name;
  if (!v.is_object()) return BadTensor(path, name, "header entry is not an object");
  auto dt = v.find("dtype");
  if (dt == v.end() || !dt->is_string()) return BadTensor(path, name, "missing 'dtype'");
  const std::string dtype = dt->get<std::string>();
  std::optional<DType> d = DTypeFromSafetensorsName(dtype);
  if (!d) return BadTensor(path, name, absl::StrCat("unknown dtype '", dtype, "'"));
  t->dtype = *d;
  auto sh = v.find("shape");
  if (sh == v.end() || !sh->is_array()) return BadTensor(path, name, "missing 'shape'");
  unsigned __int128 numel = 1;
  for (const Json& s : *sh) {
    if (!s.is_number_integer() || s.get<int64_t>() < 0) {
      return BadTensor(path, name, "shape must hold non-negative integers");
    }
    t->shape.push_back(s.get<int64_t>());
    numel *= static_cast<uint64_t>(s.get<int64_t>());
    if (numel > (unsigned __int128)data_size) numel = (unsigned __int128)data_size + 1;
  }
  auto off = v.find("data_offsets");
  if (off == v.end() || !off->is_array() || off->size() != 2 ||
      !(*off)[0].is_number_unsigned() || !(*off)[1].is_number_unsigned()) {
    return BadTensor(path, name, "'data_offsets' must be [begin, end] (non-negative)");
  }
  const uint64_t begin = (*off)[0].get<uint64_t>(), end = (*off)[1].get<uint64_t>();
  if (begin > end || end > data_size) {
    return BadTensor(path, name,
                     absl::StrCat("data_offsets [", begin, ", ", end,
                                  "] out of range of the data section (", data_size, " bytes)"));
  }
  const unsigned __int128 want = numel * (unsigned)DTypeSize(t->dtype);
  if (want != end - begin) {
    return BadTensor(path, name,
                     absl::StrCat("shape ", ShapeString(t->shape), " x ", dtype, " needs ",
                                  (uint64_t)std::min<unsigned __int128>(want, ~0ull),
                                  " bytes but data_offsets span ", end - begin));
  }
  t->offset = begin;
  t->size = end - begin;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  std::unique_ptr<SafetensorsFile> f(new SafetensorsFile());
  GLMQ_ASSIGN_OR_RETURN(f->file_, MappedFile::Open(path));
  GLMQ_RETURN_IF_ERROR(f->ParseHeader());
  return f;
}

absl::Status SafetensorsFile::ParseHeader() {
  const std::string& p = file_->path();
  const uint64_t size = file_->size();
  if (size < 8) return Bad(p, absl::StrCat("file of ", size, " bytes is too short for a header"));
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | file_->data()[i];
  if (n > kMaxSafetensorsHeaderBytes) {
    return Bad(p, absl::StrCat("header length ", n, " exceeds the 100 MB limit"));
  }
  if (n > size - 8) {
    return Bad(p, absl::StrCat("header length ", n, " runs past the end of the file (",
                               size, " bytes); truncated?"));
  }
  data_begin_ = 8 + n;
  const uint64_t data_size = size - data_begin_;
  absl::string_view text(reinterpret_cast<const char*>(file_->data() + 8), n);
  GLMQ_ASSIGN_OR_RETURN(Json header, ParseJson(text, absl::StrCat(p, ": header")));
  if (!header.is_object()) return Bad(p, "header is not a JSON object");
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    SafetensorsTensor t;
    GLMQ_RETURN_IF_ERROR(ParseEntry(p, it.key(), it.value(), data_size, &t));
    tensors_.push_back(std::move(t));
  }
  std::sort(tensors_.begin(), tensors_.end(),
            [](const SafetensorsTensor& a, const SafetensorsTensor& b) {
              return a.offset != b.offset ? a.offset < b.offset : a.size < b.size;
            });
  uint64_t expect = 0;
  for (const SafetensorsTensor& t : tensors_) {
    if (t.offset < expect) {
      return BadTensor(p, t.name, absl::StrCat("data_offsets overlap the previous tensor (begin ",
                                               t.offset, " < ", expect, ")"));
    }
    if (t.offset > expect) {
      return BadTensor(p, t.name, absl::StrCat("gap in the data section before it (bytes ",
                                               expect, "..", t.offset, " unused)"));
    }
    expect = t.offset + t.size;
  }
  if (expect != data_size) {
    return Bad(p, absl::StrCat("tensors cover ", expect, " bytes of a ", data_size,
                               "-byte data section (truncated or trailing bytes)"));
  }
  for (size_t i = 0; i < tensors_.size(); ++i) {
    tensors_[i].offset += data_begin_;
    by_name_[tensors_[i].name] = static_cast<int>(i);
  }
  return absl::OkStatus();
}

const SafetensorsTensor* SafetensorsFile::Find(absl::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &tensors_[it->second];
}

std::string SafetensorsHeader(const std::vector<SafetensorsTensor>& tensors) {
  Json header = Json::object();
  for (const SafetensorsTensor& t : tensors) {
    header[t.name] = {{"dtype", std::string(Traits(t.dtype).safetensors_name)},
                      {"shape", t.shape},
                      {"data_offsets", {t.offset, t.offset + t.size}}};
  }
  header["__metadata__"] = {{"format", "pt"}};
  std::string json = header.dump();
  while ((json.size() + 8) % 8 != 0) json.push_back(' ');
  std::string out(8, '\0');
  uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + json;
}

}  // namespace glmq
