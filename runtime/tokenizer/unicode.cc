#include "runtime/tokenizer/unicode.h"

#include <algorithm>
#include <array>
#include <iterator>

namespace glmq::tok {
namespace {

#include "runtime/tokenizer/unicode_tables.inc"

CpClass SearchRanges(uint32_t cp) {
  const CpRange* end = std::end(kCpRanges);
  const CpRange* it = std::upper_bound(std::begin(kCpRanges), end, cp,
                                       [](uint32_t v, const CpRange& r) { return v < r.first; });
  if (it == std::begin(kCpRanges)) return CpClass::kOther;
  --it;
  return cp <= it->last ? it->cls : CpClass::kOther;
}

// 64 KiB flat table for the BMP, built once from the ranges.
const std::array<CpClass, 0x10000>& BmpTable() {
  static const auto* table = [] {
    auto* t = new std::array<CpClass, 0x10000>();
    t->fill(CpClass::kOther);
    for (const CpRange& r : kCpRanges) {
      if (r.first > 0xFFFF) break;
      for (uint32_t cp = r.first; cp <= r.last && cp <= 0xFFFF; ++cp) (*t)[cp] = r.cls;
    }
    return t;
  }();
  return *table;
}

}  // namespace

CpClass ClassOf(uint32_t cp) {
  if (cp <= 0xFFFF) return BmpTable()[cp];
  if (cp > 0x10FFFF) return CpClass::kOther;
  return SearchRanges(cp);
}

const char* UnicodeTablesVersion() { return GLMQ_UNICODE_VERSION; }

}  // namespace glmq::tok
