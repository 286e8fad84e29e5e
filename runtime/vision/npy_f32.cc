#include "runtime/vision/npy_f32.h"

#include <cstdint>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/file.h"
#include "core/status.h"

namespace glmq {
namespace {

template <class T>
T ReadLe(const std::string& b, size_t at) {
  T v;
  std::memcpy(&v, b.data() + at, sizeof(T));
  return v;
}

// The shape of a C-order .npy of 4-byte elements of `descr` ('<f4',
// '<i4') and the offset of its data.
absl::Status ParseNpyHeader(const std::string& b, const std::string& where, absl::string_view descr,
                            std::vector<int64_t>* shape, size_t* offset) {
  auto err = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", what));
  };
  if (b.size() < 10 || b.compare(0, 6, "\x93NUMPY") != 0) return err("not a .npy array");
  const bool v1 = b[6] == 1;
  const size_t len = v1 ? ReadLe<uint16_t>(b, 8) : (b.size() >= 12 ? ReadLe<uint32_t>(b, 8) : 0);
  const size_t start = v1 ? 10 : 12;
  if (start + len > b.size()) return err("truncated header");
  const std::string header = b.substr(start, len);
  if (!absl::StrContains(header, absl::StrCat("'descr': '", descr, "'")))
    return err(absl::StrCat("dtype is not '", descr, "'"));
  if (!absl::StrContains(header, "'fortran_order': False")) return err("not C order");
  const size_t open = header.find("'shape': (");
  const size_t close = open == std::string::npos ? open : header.find(')', open);
  if (close == std::string::npos) return err("no shape");
  int64_t count = 1;
  for (absl::string_view dim : absl::StrSplit(header.substr(open + 10, close - open - 10), ',')) {
    dim = absl::StripAsciiWhitespace(dim);
    if (dim.empty()) continue;
    int64_t d;
    if (!absl::SimpleAtoi(dim, &d) || d < 0) return err(absl::StrCat("bad dimension '", dim, "'"));
    shape->push_back(d);
    if (d != 0 && count > INT64_MAX / d) return err("shape has over 2^63 elements");
    count *= d;
  }
  // By division: count * 4 wraps for shapes near 2^62 elements.
  const uint64_t bytes = b.size() - start - len;
  if (bytes % 4 != 0 || bytes / 4 != static_cast<uint64_t>(count))
    return err("size does not match shape");
  *offset = start + len;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<NpyF32> ParseNpyF32(const std::string& b, const std::string& where) {
  NpyF32 a;
  size_t offset = 0;
  GLMQ_RETURN_IF_ERROR(ParseNpyHeader(b, where, "<f4", &a.shape, &offset));
  a.data.resize((b.size() - offset) / 4);
  std::memcpy(a.data.data(), b.data() + offset, a.data.size() * 4);
  return a;
}

absl::StatusOr<std::vector<int32_t>> ReadNpyI32(const std::string& path) {
  GLMQ_ASSIGN_OR_RETURN(std::string b, ReadFileToString(path));
  std::vector<int64_t> shape;
  size_t offset = 0;
  GLMQ_RETURN_IF_ERROR(ParseNpyHeader(b, path, "<i4", &shape, &offset));
  std::vector<int32_t> v((b.size() - offset) / 4);
  std::memcpy(v.data(), b.data() + offset, v.size() * 4);
  return v;
}

absl::StatusOr<NpyF32> ReadNpyF32(const std::string& path) {
  GLMQ_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
  return ParseNpyF32(bytes, path);
}

std::string NpyF32Bytes(const std::vector<int64_t>& shape, const float* data) {
  std::string dims = absl::StrJoin(shape, ", ");
  if (shape.size() == 1) dims += ",";
  std::string header =
      absl::StrCat("{'descr': '<f4', 'fortran_order': False, 'shape': (", dims, "), }");
  // Magic (6) + version (2) + length (2) + header + '\n', padded to 64 bytes.
  const size_t total = (10 + header.size() + 1 + 63) / 64 * 64;
  header.append(total - 10 - header.size() - 1, ' ');
  header += '\n';
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  out += header;
  out.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n) * 4);
  return out;
}

absl::Status WriteNpyF32(const std::string& path, const std::vector<int64_t>& shape,
                         const float* data) {
  return WriteFileAtomically(path, NpyF32Bytes(shape, data));
}

}  // namespace glmq
