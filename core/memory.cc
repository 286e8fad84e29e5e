#include "core/memory.h"

#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace glmq {
namespace {

constexpr uint64_t kMax = uint64_t{1} << 63;  // exclusive: fits int64_t

// kB value of a /proc/meminfo line ("MemAvailable:   123 kB"), or -1.
int64_t MeminfoKb(const char* text, const char* key) {
  const char* p = std::strstr(text, key);
  if (p == nullptr) return -1;
  long long kb = -1;
  if (std::sscanf(p + std::strlen(key), " %lld", &kb) != 1) return -1;
  return kb;
}

std::string GiB(uint64_t bytes) { return absl::StrFormat("%.2f GiB", bytes / 1073741824.0); }

}  // namespace

absl::StatusOr<uint64_t> CheckedProduct(std::initializer_list<uint64_t> factors,
                                        absl::string_view what) {
  uint64_t p = 1;
  for (uint64_t f : factors) {
    if (f != 0 && p > (kMax - 1) / f) {
      return absl::OutOfRangeError(absl::StrCat(what, ": size overflows 63 bits"));
    }
    p *= f;
  }
  return p;
}

absl::StatusOr<uint64_t> CheckedSum(std::initializer_list<uint64_t> terms, absl::string_view what) {
  uint64_t s = 0;
  for (uint64_t t : terms) {
    if (t >= kMax - s) return absl::OutOfRangeError(absl::StrCat(what, ": size overflows 63 bits"));
    s += t;
  }
  return s;
}

uint64_t AvailableMemoryBytes() {
  uint64_t avail = ~uint64_t{0};
  if (FILE* f = std::fopen("/proc/meminfo", "r")) {
    char buf[8192];
    const size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
    std::fclose(f);
    buf[n] = '\0';
    const int64_t mem = MeminfoKb(buf, "MemAvailable:");
    const int64_t swap = MeminfoKb(buf, "SwapFree:");
    if (mem >= 0) avail = (static_cast<uint64_t>(mem) + std::max<int64_t>(swap, 0)) * 1024;
  }
  for (int res : {RLIMIT_AS, RLIMIT_DATA}) {
    struct rlimit rl;
    if (::getrlimit(res, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
      avail = std::min<uint64_t>(avail, rl.rlim_cur);
    }
  }
  return avail;
}

absl::Status CheckMemoryFor(uint64_t bytes, absl::string_view what) {
  const uint64_t avail = AvailableMemoryBytes();
  if (bytes <= avail) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat(what, " needs ", GiB(bytes), ", but only ",
                                                   GiB(avail), " of memory is available"));
}

}  // namespace glmq
