// The include graph against DEVELOPERS.md: every source file's quoted
// #includes must point to its own module or to a module of lower rank in
// the table between <!-- layers:begin --> and <!-- layers:end -->, and every
// folder holding C++ must be a module of that table.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace glmq {
namespace {

namespace fs = std::filesystem;
const fs::path kRoot = GLMQ_SOURCE_DIR;

std::string ReadAll(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// module -> rank, from the table's first two columns.
std::map<std::string, int> LayerTable() {
  const std::string doc = ReadAll(kRoot / "DEVELOPERS.md");
  const size_t begin = doc.find("<!-- layers:begin -->"), end = doc.find("<!-- layers:end -->");
  std::map<std::string, int> ranks;
  if (begin == std::string::npos || end == std::string::npos) return ranks;
  std::istringstream rows(doc.substr(begin, end - begin));
  const std::regex row(R"(^\|\s*(\d+)\s*\|\s*([a-z_/]+)\s*\|)");
  std::smatch m;
  for (std::string line; std::getline(rows, line);) {
    if (std::regex_search(line, m, row)) ranks[m[2]] = std::stoi(m[1]);
  }
  return ranks;
}

// The longest table module that is a folder prefix of `path`, or "".
std::string ModuleOf(const std::string& path, const std::map<std::string, int>& ranks) {
  std::string best;
  for (const auto& [module, rank] : ranks) {
    if (path.rfind(module + "/", 0) == 0 && module.size() > best.size()) best = module;
  }
  return best;
}

bool IsSource(const fs::path& p) {
  const std::string e = p.extension().string();
  return e == ".cc" || e == ".h" || e == ".cu" || e == ".cuh";
}

// Source files under the repository, skipping build folders and dot folders.
std::vector<std::string> SourceFiles() {
  std::vector<std::string> out;
  for (auto it = fs::recursive_directory_iterator(kRoot); it != fs::recursive_directory_iterator();
       ++it) {
    const std::string name = it->path().filename().string();
    if (it->is_directory() && (name.rfind("build", 0) == 0 || name[0] == '.' ||
                               name == "testdata" || name == "third_party")) {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file() && IsSource(it->path())) {
      out.push_back(fs::relative(it->path(), kRoot).generic_string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(Layering, TableIsPresent) {
  const std::map<std::string, int> ranks = LayerTable();
  EXPECT_GE(ranks.size(), 10u) << "DEVELOPERS.md: the layers table is missing or unreadable";
  EXPECT_EQ(ranks.count("core"), 1u);
  EXPECT_EQ(ranks.count("tools"), 1u);
}

TEST(Layering, IncludesPointDownTheTable) {
  const std::map<std::string, int> ranks = LayerTable();
  const std::regex include(R"re(^\s*#\s*include\s+"([^"]+)")re");
  std::vector<std::string> problems;
  for (const std::string& file : SourceFiles()) {
    const std::string from = ModuleOf(file, ranks);
    if (from.empty()) {
      problems.push_back(file + ": its folder is not a module of DEVELOPERS.md's layers table");
      continue;
    }
    const bool is_test = file.find("_test.") != std::string::npos;
    std::istringstream lines(ReadAll(kRoot / file));
    std::smatch m;
    for (std::string line; std::getline(lines, line);) {
      if (!std::regex_search(line, m, include)) continue;
      const std::string target = m[1];
      if (target.find('/') == std::string::npos) continue;  // generated or same-folder
      const std::string to = ModuleOf(target, ranks);
      if (to.empty() || to == from) continue;  // third-party or generated (e.g. *.pb.h paths)
      if (is_test && to == "tests" && target.find("_util.h") != std::string::npos) continue;
      if (ranks.at(to) >= ranks.at(from)) {
        problems.push_back(file + " (" + from + ", rank " + std::to_string(ranks.at(from)) +
                           ") includes " + target + " (" + to + ", rank " +
                           std::to_string(ranks.at(to)) + ")");
      }
    }
  }
  EXPECT_TRUE(problems.empty()) << [&] {
    std::string all;
    for (const std::string& p : problems) all += p + "\n";
    return all;
  }();
}

}  // namespace
}  // namespace glmq
