// Driver for fuzz targets built without libFuzzer (GCC, or GLMQ_FUZZ=OFF):
// runs every input file (or every file of an input folder) through
// LLVMFuzzerTestOneInput once, then, with -max_total_time=N, feeds it
// mutations of those inputs (bit flips, interesting bytes, cut, duplicated
// and spliced ranges; a fixed random seed, so a run is reproducible) for N
// seconds. A crash, an uncaught exception or a sanitizer report ends the
// process abnormally, which fails the `fuzz` smoke test. Flags take
// libFuzzer's spelling so that one test command suits both builds; others
// are ignored.
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::string ReadAll(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void Run(const std::string& s) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

std::string Mutate(std::string s, const std::vector<std::string>& seeds, std::mt19937_64& rng) {
  static const uint8_t kInteresting[] = {0,   1,   0x7f, 0x80, 0xff, '0', '9',  '-',
                                         '{', '}', '[',  ']',  '"',  ':', '\n', ' '};
  const int n = 1 + static_cast<int>(rng() % 4);
  for (int k = 0; k < n; ++k) {
    const size_t len = s.size();
    const size_t at = len ? rng() % len : 0;
    switch (rng() % 7) {
      case 0:
        if (len) s[at] ^= static_cast<char>(1u << (rng() % 8));
        break;
      case 1:
        if (len) s[at] = static_cast<char>(kInteresting[rng() % sizeof(kInteresting)]);
        break;
      case 2:
        if (len) s.erase(at, 1 + rng() % std::min<size_t>(len - at, 64));
        break;
      case 3:
        if (len) s.insert(at, s.substr(at, 1 + rng() % std::min<size_t>(len - at, 64)));
        break;
      case 4:
        s.resize(len ? rng() % len : 0);
        break;
      case 5: {
        const std::string& o = seeds[rng() % seeds.size()];
        if (!o.empty()) s = s.substr(0, at) + o.substr(rng() % o.size());
        break;
      }
      default:
        s.insert(at, 1, static_cast<char>(rng()));
        break;
    }
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  double max_seconds = 0;
  long long max_runs = -1;
  std::vector<std::string> seeds;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("-max_total_time=", 0) == 0) max_seconds = std::atof(a.c_str() + 16);
    else if (a.rfind("-runs=", 0) == 0) max_runs = std::atoll(a.c_str() + 6);
    if (a[0] == '-') continue;
    const std::filesystem::path p(a);
    if (std::filesystem::is_directory(p)) {
      std::vector<std::filesystem::path> files;
      for (const auto& e : std::filesystem::directory_iterator(p)) {
        if (e.is_regular_file()) files.push_back(e.path());
      }
      std::sort(files.begin(), files.end());
      for (const auto& f : files) seeds.push_back(ReadAll(f));
    } else if (std::filesystem::is_regular_file(p)) {
      seeds.push_back(ReadAll(p));
    }
  }
  for (const std::string& s : seeds) Run(s);
  std::fprintf(stderr, "replayed %zu inputs\n", seeds.size());
  if (seeds.empty()) seeds.push_back("");
  std::mt19937_64 rng(1);
  long long runs = 0;
  const auto t0 = std::chrono::steady_clock::now();
  while (max_seconds > 0 && (max_runs < 0 || runs < max_runs)) {
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() >=
        max_seconds) {
      break;
    }
    Run(Mutate(seeds[rng() % seeds.size()], seeds, rng));
    ++runs;
  }
  std::fprintf(stderr, "ran %lld mutated inputs\n", runs);
  return 0;
}
