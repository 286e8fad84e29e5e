// Helpers for tokenizer tests: builds small tiktoken files in memory.
#pragma once

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace glmq::tok::testing {

inline std::string Base64Encode(const std::string& in) {
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int k = 3; k >= 0; --k) out.push_back(kAlphabet[(v >> (6 * k)) & 63]);
  }
  if (i + 1 == in.size()) {
    const uint32_t v = uint8_t(in[i]) << 16;
    out += {kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    const uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += {kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63], kAlphabet[(v >> 6) & 63], '='};
  }
  return out;
}

// A tiktoken file: the 256 bytes (ranks 0..255), then `merged` in order.
inline std::string TiktokenFile(const std::vector<std::string>& merged) {
  std::string out;
  int rank = 0;
  for (int b = 0; b < 256; ++b) {
    absl::StrAppend(&out, Base64Encode(std::string(1, static_cast<char>(b))), " ", rank++, "\n");
  }
  for (const std::string& m : merged) absl::StrAppend(&out, Base64Encode(m), " ", rank++, "\n");
  return out;
}

}  // namespace glmq::tok::testing
