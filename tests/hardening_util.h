// Shared by the hardening regression tests (tests/hardening_*_test.cc):
// a per-test scratch folder, the glmq binary run under a time limit (a hang
// is a failure, not a stuck test), and the tiny fixture converted (M) and
// quantized to int4-g128 (Q) once per test binary.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "core/json.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace glmq::testing {

namespace fs = std::filesystem;

inline const std::string kTinyChat = std::string(GLMQ_SHARED_DIR) + "/fixtures/models/glm4-tiny-chat";
inline const std::string kValidText = std::string(GLMQ_SHARED_DIR) + "/fixtures/text/valid.txt";

struct CliRun {
  int rc = -1;         // exit code; 124: killed by the time limit; -1: died by a signal
  std::string output;  // stdout + stderr
};

// `glmq ARGS` (ARGS is shell text) under `timeout`; stdin is /dev/null.
inline CliRun Glmq(const std::string& args, int seconds = 60) {
  CliRun r;
  const std::string cmd = "timeout -k 5 " + std::to_string(seconds) + " " + GLMQ_CLI + " " + args +
                          " </dev/null 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) r.output.append(buf, n);
  const int status = ::pclose(p);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// A clean failure: exit code 1 (not a crash, not the time limit) and
// `needle` in the output.
#define EXPECT_CLEAN_ERROR(run, needle)                                     \
  do {                                                                      \
    const ::glmq::testing::CliRun& r_ = (run);                                 \
    EXPECT_EQ(r_.rc, 1) << r_.output;                                       \
    EXPECT_THAT(r_.output, ::testing::HasSubstr(needle)) << "rc " << r_.rc; \
    EXPECT_THAT(r_.output, ::testing::Not(::testing::HasSubstr("terminate called")));  \
  } while (0)

class Hardening : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("glmq_hardening_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  std::string Path(const std::string& name) const { return (root_ / name).string(); }
  std::string Quote(const std::string& s) const { return "'" + s + "'"; }

  // A writable copy of the tiny chat fixture folder.
  std::string CopyFixture(const std::string& as = "hf") {
    const fs::path dst = root_ / as;
    fs::copy(kTinyChat, dst, fs::copy_options::recursive);
    for (const auto& e : fs::directory_iterator(dst))
      fs::permissions(e.path(), fs::perms::owner_read | fs::perms::owner_write);
    return dst.string();
  }

  void EditJson(const std::string& path, const std::function<void(Json&)>& edit) {
    std::ifstream in(path);
    Json j = Json::parse(in);
    edit(j);
    std::ofstream(path, std::ios::trunc) << j.dump(2);
  }

  void WriteText(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  }

  // Regular files in the scratch folder whose name contains ".tmp.".
  int TempFiles() const {
    int n = 0;
    for (const auto& e : fs::recursive_directory_iterator(root_))
      if (e.path().filename().string().find(".tmp.") != std::string::npos) ++n;
    return n;
  }

  // M and Q: converted once per binary, copied per test (tests may edit).
  static const std::string& SharedDir() {
    static const std::string dir = [] {
      const fs::path d = fs::temp_directory_path() / ("glmq_hardening_shared_" + std::to_string(::getpid()));
      fs::create_directories(d);
      const CliRun c = Glmq("convert " + kTinyChat + " -o " + (d / "M.glmq").string());
      EXPECT_EQ(c.rc, 0) << c.output;
      const CliRun q = Glmq("quantize " + (d / "M.glmq").string() + " -o " + (d / "Q.glmq").string() +
                         " --scheme int4-g128");
      EXPECT_EQ(q.rc, 0) << q.output;
      std::atexit([] {
        std::error_code ec;
        fs::remove_all(fs::temp_directory_path() /
                           ("glmq_hardening_shared_" + std::to_string(::getpid())),
                       ec);
      });
      return d.string();
    }();
    return dir;
  }
  std::string M() {
    const std::string p = Path("M.glmq");
    if (!fs::exists(p)) fs::copy_file(SharedDir() + "/M.glmq", p);
    return p;
  }
  std::string Q() {
    const std::string p = Path("Q.glmq");
    if (!fs::exists(p)) fs::copy_file(SharedDir() + "/Q.glmq", p);
    return p;
  }

  fs::path root_;
};

}  // namespace glmq::testing
