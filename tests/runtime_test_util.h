// Helpers for the runtime tests: a minimal .npy reader (little-endian f4 /
// i4, C order) and converting a fixture model to a temporary .glmq.
#pragma once

#include <cstring>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "core/file.h"

namespace glmq::testing_util {

struct Npy {
  std::string descr;          // "<f4", "<i4"
  std::vector<int64_t> shape;
  std::string data;           // raw bytes
};

inline absl::StatusOr<Npy> ReadNpy(const std::string& path) {
  absl::StatusOr<std::string> bytes = ReadFileToString(path);
  if (!bytes.ok()) return bytes.status();
  const std::string& b = *bytes;
  if (b.size() < 10 || b.compare(0, 6, "\x93NUMPY") != 0) {
    return absl::InvalidArgumentError(path + ": not .npy");
  }
  const size_t hlen = b[6] == 1 ? (uint8_t(b[8]) | uint8_t(b[9]) << 8) : 0;
  const size_t hstart = b[6] == 1 ? 10 : 12;
  const std::string header = b.substr(hstart, hlen);
  Npy n;
  const size_t d = header.find("'descr': '");
  n.descr = header.substr(d + 10, 3);
  if (header.find("'fortran_order': False") == std::string::npos) {
    return absl::InvalidArgumentError(path + ": Fortran order");
  }
  const size_t s = header.find("'shape': (");
  std::string dims = header.substr(s + 10, header.find(')', s) - s - 10);
  for (size_t p = 0; p < dims.size();) {
    const size_t q = dims.find(',', p);
    const std::string tok = dims.substr(p, q == std::string::npos ? std::string::npos : q - p);
    if (tok.find_first_of("0123456789") != std::string::npos) n.shape.push_back(std::stoll(tok));
    if (q == std::string::npos) break;
    p = q + 1;
  }
  n.data = b.substr(hstart + hlen);
  return n;
}

template <class T>
std::vector<T> NpyValues(const Npy& n) {
  std::vector<T> v(n.data.size() / sizeof(T));
  std::memcpy(v.data(), n.data.data(), v.size() * sizeof(T));
  return v;
}

inline std::string SharedDir() { return GLMQ_SHARED_DIR; }

}  // namespace glmq::testing_util
