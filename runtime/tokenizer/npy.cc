#include "runtime/tokenizer/npy.h"

#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/file.h"
#include "core/status.h"

namespace glmq::tok {

absl::StatusOr<std::vector<int32_t>> ReadNpyInt32(const std::string& path) {
  GLMQ_ASSIGN_OR_RETURN(std::string data, ReadFileToString(path));
  auto err = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", what));
  };
  if (data.size() < 10 || data.compare(0, 6, "\x93NUMPY") != 0) return err("not a .npy file");
  const int major = static_cast<uint8_t>(data[6]);
  size_t header_len, header_start;
  if (major == 1) {
    header_len = static_cast<uint8_t>(data[8]) | (static_cast<uint8_t>(data[9]) << 8);
    header_start = 10;
  } else {
    if (data.size() < 12) return err("truncated header");
    uint32_t len;
    std::memcpy(&len, data.data() + 8, 4);
    header_len = len;
    header_start = 12;
  }
  if (header_start + header_len > data.size()) return err("truncated header");
  const std::string header = data.substr(header_start, header_len);
  if (!absl::StrContains(header, "'descr': '<i4'")) return err("dtype is not '<i4'");
  if (!absl::StrContains(header, "'fortran_order': False")) return err("fortran order");
  const size_t shape = header.find("'shape': (");
  if (shape == std::string::npos) return err("no shape");
  const size_t open = shape + 10, close = header.find(')', open);
  std::string dims = header.substr(open, close - open);
  if (!dims.empty() && dims.back() == ',') dims.pop_back();
  int64_t n;
  if (!absl::SimpleAtoi(dims, &n) || n < 0) return err(absl::StrCat("shape (", dims, ") is not 1-D"));
  const size_t body = header_start + header_len;
  if (data.size() - body != static_cast<size_t>(n) * 4) return err("data size does not match shape");
  std::vector<int32_t> out(n);
  std::memcpy(out.data(), data.data() + body, n * 4);
  return out;
}

}  // namespace glmq::tok
