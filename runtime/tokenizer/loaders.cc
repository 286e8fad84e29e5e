#include "runtime/tokenizer/loaders.h"

#include <algorithm>
#include <array>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "runtime/tokenizer/unicode.h"

namespace glmq::tok {

const char kGlm4Regex[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

namespace {

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

absl::StatusOr<int32_t> JsonTokenId(const Json& v, absl::string_view where,
                                    absl::string_view field) {
  if (v.is_number_integer()) {
    const bool in_range = v.is_number_unsigned() ? v.get<uint64_t>() <= kMaxTokenId
                                                 : v.get<int64_t>() >= 0 &&
                                                       v.get<int64_t>() <= kMaxTokenId;
    if (in_range) return static_cast<int32_t>(v.get<int64_t>());
  }
  return absl::InvalidArgumentError(absl::StrCat(where, ": field '", field, "': token id ",
                                                 v.dump(), " is not an integer in 0..",
                                                 kMaxTokenId));
}

absl::StatusOr<std::string> Base64Decode(absl::string_view in) {
  if (in.empty() || in.size() % 4 != 0) {
    return absl::InvalidArgumentError("base64 length is not a positive multiple of 4");
  }
  std::string out;
  out.reserve(in.size() / 4 * 3);
  for (size_t i = 0; i < in.size(); i += 4) {
    const bool last = i + 4 == in.size();
    int pad = 0;
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = in[i + k];
      int d;
      if (c == '=' && last && k >= 2) {
        d = 0;
        ++pad;
      } else {
        if (pad > 0) return absl::InvalidArgumentError("base64 data after '=' padding");
        d = Base64Value(c);
        if (d < 0) return absl::InvalidArgumentError(absl::StrCat("bad base64 character '", std::string(1, c), "'"));
      }
      v = (v << 6) | static_cast<uint32_t>(d);
    }
    out.push_back(static_cast<char>(v >> 16));
    if (pad < 2) out.push_back(static_cast<char>((v >> 8) & 0xFF));
    if (pad < 1) out.push_back(static_cast<char>(v & 0xFF));
  }
  return out;
}

absl::StatusOr<std::vector<std::pair<std::string, int32_t>>> ParseTiktoken(
    absl::string_view data, absl::string_view where) {
  std::vector<std::pair<std::string, int32_t>> tokens;
  std::vector<int64_t> line_of_rank;  // 0 = unseen
  int64_t line_no = 0;
  size_t pos = 0;
  while (pos < data.size()) {
    size_t eol = data.find('\n', pos);
    if (eol == absl::string_view::npos) eol = data.size();
    absl::string_view line = data.substr(pos, eol - pos);
    pos = eol + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    const auto err = [&](absl::string_view what) {
      return absl::InvalidArgumentError(absl::StrCat(where, " line ", line_no, ": ", what));
    };
    const size_t space = line.find(' ');
    if (space == absl::string_view::npos || line.find(' ', space + 1) != absl::string_view::npos) {
      return err("expected '<base64 token> <rank>'");
    }
    absl::StatusOr<std::string> bytes = Base64Decode(line.substr(0, space));
    if (!bytes.ok()) return err(bytes.status().message());
    int32_t rank;
    if (!absl::SimpleAtoi(line.substr(space + 1), &rank) || rank < 0) {
      return err(absl::StrCat("bad rank '", std::string(line.substr(space + 1)), "'"));
    }
    if (rank > kMaxTokenId) {
      return err(absl::StrCat("rank ", rank, " is over the limit of ", kMaxTokenId));
    }
    if (static_cast<size_t>(rank) >= line_of_rank.size()) line_of_rank.resize(rank + 1, 0);
    if (line_of_rank[rank] != 0) {
      return err(absl::StrCat("duplicate rank ", rank, " (first on line ", line_of_rank[rank], ")"));
    }
    line_of_rank[rank] = line_no;
    tokens.emplace_back(*std::move(bytes), rank);
  }
  if (tokens.empty()) return absl::InvalidArgumentError(absl::StrCat(where, ": no tokens"));
  for (size_t r = 0; r < line_of_rank.size(); ++r) {
    if (line_of_rank[r] == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": ranks are not contiguous: rank ", r, " is missing (max rank ",
          line_of_rank.size() - 1, ")"));
    }
  }
  return tokens;
}

namespace {

// GPT-2 bytes_to_unicode as a code point -> byte table (-1: not a byte char).
const std::array<int16_t, 324>& UnicodeToByte() {
  static const std::array<int16_t, 324> table = [] {
    std::array<int16_t, 324> t;
    t.fill(-1);
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      t[printable ? b : 256 + n++] = static_cast<int16_t>(b);
    }
    return t;
  }();
  return table;
}

}  // namespace

absl::StatusOr<std::string> ByteLevelToBytes(absl::string_view token, absl::string_view where) {
  std::string out;
  const auto* s = reinterpret_cast<const uint8_t*>(token.data());
  size_t i = 0;
  while (i < token.size()) {
    const Utf8Unit u = DecodeUtf8(s + i, token.size() - i);
    const int b = u.cp < UnicodeToByte().size() ? UnicodeToByte()[u.cp] : -1;
    if (b < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": token '", std::string(token), "' is not byte-level (GPT-2 bytes_to_unicode)"));
    }
    out.push_back(static_cast<char>(b));
    i += u.len;
  }
  return out;
}

}  // namespace glmq::tok
