#include "runtime/npy.h"

#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/status.h"

namespace glmq {
namespace {

constexpr char kMagic[] = "\x93NUMPY";

struct NpyHeader {
  std::string descr;
  std::vector<int64_t> shape;
  size_t data_offset = 0;
};

// Parses "{'descr': '<i4', 'fortran_order': False, 'shape': (3, 4), }".
absl::StatusOr<NpyHeader> ParseHeader(const std::string& path, absl::string_view data) {
  auto err = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", what));
  };
  if (data.size() < 10 || data.substr(0, 6) != absl::string_view(kMagic, 6))
    return err("not a .npy file");
  const int major = static_cast<uint8_t>(data[6]);
  if (major < 1 || major > 3) return err(absl::StrCat("unsupported .npy version ", major));
  size_t len = 0, start = 10;
  if (major == 1) {
    len = static_cast<uint8_t>(data[8]) | (static_cast<uint8_t>(data[9]) << 8);
  } else {
    if (data.size() < 12) return err("truncated header");
    uint32_t l32;
    std::memcpy(&l32, data.data() + 8, 4);
    len = l32;
    start = 12;
  }
  if (len > data.size() - start) return err("truncated header");
  const absl::string_view h = data.substr(start, len);
  NpyHeader out;
  out.data_offset = start + len;
  const size_t d = h.find("'descr': '");
  if (d == absl::string_view::npos) return err("header has no 'descr'");
  const size_t d_end = h.find('\'', d + 10);
  if (d_end == absl::string_view::npos) return err("bad 'descr'");
  out.descr = std::string(h.substr(d + 10, d_end - d - 10));
  if (!absl::StrContains(h, "'fortran_order': False")) return err("Fortran order is not supported");
  const size_t s = h.find("'shape': (");
  const size_t s_end = s == absl::string_view::npos ? s : h.find(')', s);
  if (s_end == absl::string_view::npos) return err("header has no 'shape'");
  for (absl::string_view dim : absl::StrSplit(h.substr(s + 10, s_end - s - 10), ',')) {
    dim = absl::StripAsciiWhitespace(dim);
    if (dim.empty()) continue;
    int64_t v;
    if (!absl::SimpleAtoi(dim, &v) || v < 0) return err(absl::StrCat("bad dimension '", dim, "'"));
    out.shape.push_back(v);
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<int32_t>> ReadNpyInt32(const std::string& path) {
  GLMQ_ASSIGN_OR_RETURN(std::string data, ReadFileToString(path));
  GLMQ_ASSIGN_OR_RETURN(NpyHeader h, ParseHeader(path, data));
  auto err = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", what));
  };
  if (h.descr != "<i4") return err(absl::StrCat("dtype '", h.descr, "', expected '<i4' (int32)"));
  int64_t n = 1, non_unit = 0;
  for (int64_t d : h.shape) {
    n *= d;
    non_unit += d != 1;
  }
  if (h.shape.empty() || h.shape.size() > 2 || non_unit > 1)
    return err(absl::StrCat("shape of ", h.shape.size(), " dimensions is not a vector"));
  // Compared by division: n * 4 wraps for a dimension near 2^62 (an empty
  // file claiming 2^62 ids then asked for that many).
  const uint64_t bytes = data.size() - h.data_offset;
  if (bytes % 4 != 0 || bytes / 4 != static_cast<uint64_t>(n))
    return err(absl::StrCat(bytes, " bytes of data for ", n, " int32 values"));
  std::vector<int32_t> out(n);
  std::memcpy(out.data(), data.data() + h.data_offset, n * 4);
  return out;
}

absl::StatusOr<std::unique_ptr<NpyF32Writer>> NpyF32Writer::Create(const std::string& path,
                                                                   int64_t rows, int64_t cols) {
  if (rows < 0 || cols <= 0)
    return absl::InvalidArgumentError(absl::StrCat(path, ": shape (", rows, ", ", cols, ")"));
  std::unique_ptr<NpyF32Writer> w(new NpyF32Writer());
  GLMQ_ASSIGN_OR_RETURN(w->out_, AtomicOutputFile::Create(path));
  w->rows_ = rows;
  w->cols_ = cols;
  std::string header =
      absl::StrCat("{'descr': '<f4', 'fortran_order': False, 'shape': (", rows, ", ", cols, "), }");
  // Version 1.0: magic, version, u16 header length; data 64-byte aligned.
  const size_t total = (10 + header.size() + 1 + 63) / 64 * 64;
  header.append(total - 10 - header.size() - 1, ' ');
  header.push_back('\n');
  std::string prefix(kMagic, 6);
  prefix.push_back('\x01');
  prefix.push_back('\x00');
  prefix.push_back(static_cast<char>(header.size() & 0xff));
  prefix.push_back(static_cast<char>(header.size() >> 8));
  GLMQ_RETURN_IF_ERROR(w->out_->Write(prefix + header));
  return w;
}

absl::Status NpyF32Writer::Append(absl::Span<const float> values) {
  const int64_t n = static_cast<int64_t>(values.size());
  if (n % cols_ != 0 || written_ + n > rows_ * cols_)
    return absl::InvalidArgumentError(absl::StrCat(out_->path(), ": ", n, " more values after ",
                                                   written_, " do not fit shape (", rows_, ", ",
                                                   cols_, ")"));
  written_ += n;
  return out_->Write(values.data(), values.size() * sizeof(float));
}

absl::Status NpyF32Writer::Finish() {
  if (written_ != rows_ * cols_)
    return absl::FailedPreconditionError(absl::StrCat(
        out_->path(), ": ", written_, " values written, shape (", rows_, ", ", cols_, ")"));
  return out_->Commit();
}

}  // namespace glmq
