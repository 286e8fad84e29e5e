#include "runtime/tokenizer/pretokenize.h"

#include <cstdint>

#include "runtime/tokenizer/unicode.h"

namespace glmq::tok {
namespace {

struct Unit {
  uint32_t cp;
  CpClass cls;
  uint32_t len;  // bytes
};

// Decodes `text` into units; bad bytes become kInvalidCp/kOther units.
void Decode(absl::string_view text, std::vector<Unit>* units) {
  units->clear();
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const Utf8Unit u = DecodeUtf8(s + i, n - i);
    const CpClass cls = u.cp == kInvalidCp ? CpClass::kOther : ClassOf(u.cp);
    units->push_back({u.cp, cls, u.len});
    i += u.len;
  }
}

bool IsCrLf(uint32_t cp) { return cp == '\r' || cp == '\n'; }

// Simple case folding for the contraction letters; U+017F (long s) folds to
// 's' as in the Unicode case-insensitive matching of both regex engines.
uint32_t FoldAscii(uint32_t cp) {
  if (cp >= 'A' && cp <= 'Z') return cp + 32;
  if (cp == 0x17F) return 's';
  return cp;
}

// Each Match* returns the end unit index of its alternative's match at `i`,
// or 0 when it does not match (a match is never empty, so end > i >= 0).
size_t MatchContraction(const std::vector<Unit>& u, size_t i) {
  const size_t n = u.size();
  if (u[i].cp != '\'' || i + 1 >= n) return 0;
  const uint32_t c1 = FoldAscii(u[i + 1].cp);
  if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return i + 2;
  if (i + 2 >= n) return 0;
  const uint32_t c2 = FoldAscii(u[i + 2].cp);
  if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) {
    return i + 3;
  }
  return 0;
}

// [^\r\n\p{L}\p{N}]?\p{L}+
size_t MatchWord(const std::vector<Unit>& u, size_t i) {
  const size_t n = u.size();
  size_t k = i;
  if (u[i].cls != CpClass::kLetter) {
    if (u[i].cls == CpClass::kNumber || IsCrLf(u[i].cp)) return 0;
    k = i + 1;  // the optional prefix; without it u[i] would need to be a letter
  }
  if (k >= n || u[k].cls != CpClass::kLetter) return 0;
  while (k < n && u[k].cls == CpClass::kLetter) ++k;
  return k;
}

// \p{N}{1,3}
size_t MatchNumber(const std::vector<Unit>& u, size_t i) {
  size_t k = i;
  while (k < u.size() && k < i + 3 && u[k].cls == CpClass::kNumber) ++k;
  return k == i ? 0 : k;
}

//  ?[^\s\p{L}\p{N}]+[\r\n]*
size_t MatchPunct(const std::vector<Unit>& u, size_t i) {
  const size_t n = u.size();
  size_t k = i;
  if (u[i].cp == ' ' && i + 1 < n && u[i + 1].cls == CpClass::kOther) k = i + 1;
  if (u[k].cls != CpClass::kOther) return 0;
  while (k < n && u[k].cls == CpClass::kOther) ++k;
  while (k < n && IsCrLf(u[k].cp)) ++k;
  return k;
}

// \s*[\r\n]+ | \s+(?!\S) | \s+   (u[i] is whitespace)
size_t MatchSpace(const std::vector<Unit>& u, size_t i) {
  const size_t n = u.size();
  size_t j = i;
  size_t last_crlf = n;  // none
  while (j < n && u[j].cls == CpClass::kSpace) {
    if (IsCrLf(u[j].cp)) last_crlf = j;
    ++j;
  }
  // \s*[\r\n]+: \s* backtracks to the last CR/LF of the run, and [\r\n]+
  // then takes just that one (what follows it in the run is not CR/LF).
  if (last_crlf != n) return last_crlf + 1;
  // \s+(?!\S): the whole run at the end of input, else give back one unit
  // so that the next one is whitespace.
  if (j == n) return j;
  if (j - 1 > i) return j - 1;
  return j;  // \s+
}

size_t MatchAt(const std::vector<Unit>& u, size_t i) {
  size_t end;
  if ((end = MatchContraction(u, i))) return end;
  if ((end = MatchWord(u, i))) return end;
  if ((end = MatchNumber(u, i))) return end;
  if ((end = MatchPunct(u, i))) return end;
  // Every unit is a letter, number, whitespace or other; only whitespace is
  // left, and the \s alternatives always match it.
  return MatchSpace(u, i);
}

}  // namespace

void PreTokenize(absl::string_view text, std::vector<absl::string_view>* pieces) {
  thread_local std::vector<Unit> units;
  Decode(text, &units);
  size_t i = 0, offset = 0;
  while (i < units.size()) {
    const size_t end = MatchAt(units, i);
    size_t bytes = 0;
    for (size_t k = i; k < end; ++k) bytes += units[k].len;
    pieces->push_back(text.substr(offset, bytes));
    offset += bytes;
    i = end;
  }
}

}  // namespace glmq::tok
