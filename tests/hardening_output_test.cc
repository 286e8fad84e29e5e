// Regression tests of the output policy (core/output.h) through the CLI:
// device nodes, outputs that are inputs, signals in the middle of a write,
// stale temp files of dead processes, and a model file truncated while it is
// being read.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "tests/hardening_util.h"

namespace glmq::testing {
namespace {

using ::testing::HasSubstr;

class Outputs : public Hardening {};

std::string Contents(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

TEST_F(Outputs, DeviceNodesAreNeverReplaced) {
  for (const std::string& cmd :
       {"quantize " + M() + " -o /dev/null --scheme int8", "convert " + kTinyChat + " -o /dev/null",
        "eval ppl " + Q() + " --text " + kValidText + " --max-windows 1 --save-logits /dev/null"}) {
    EXPECT_CLEAN_ERROR(Glmq(cmd), "refusing to write '/dev/null': it is a character device");
  }
  struct stat st;
  ASSERT_EQ(::stat("/dev/null", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_CLEAN_ERROR(Glmq("quantize " + M() + " -o " + root_.string() + " --scheme int8"),
                     "it is a directory");
}

TEST_F(Outputs, AnOutputThatIsAnInputIsRefusedUnlessForced) {
  const std::string dir = CopyFixture("hf");
  const std::string shard = dir + "/model-00001-of-00002.safetensors";
  const std::string before = Contents(shard);
  EXPECT_CLEAN_ERROR(Glmq("convert " + dir + " -o " + shard), "it is the input");
  EXPECT_CLEAN_ERROR(Glmq("convert " + dir + " -o " + dir + "/config.json"), "it is the input");
  EXPECT_EQ(Contents(shard), before);
  const std::string m = M(), src = Contents(m);
  EXPECT_CLEAN_ERROR(Glmq("quantize " + m + " -o " + m + " --scheme int8"), "it is the input");
  ASSERT_EQ(::link(m.c_str(), Path("hardlink.glmq").c_str()), 0);
  EXPECT_CLEAN_ERROR(Glmq("quantize " + m + " -o " + Path("hardlink.glmq") + " --scheme int8"),
                     "it is the input");
  EXPECT_EQ(Contents(m), src);
  EXPECT_EQ(TempFiles(), 0);
  // --force (any command, before or after the subcommand) allows it.
  const CliRun forced = Glmq("quantize " + m + " -o " + m + " --scheme int8 --force");
  EXPECT_EQ(forced.rc, 0) << forced.output;
  EXPECT_NE(Contents(m), src);
  const CliRun ok = Glmq("verify " + m);
  EXPECT_EQ(ok.rc, 0) << ok.output;
  EXPECT_EQ(Glmq("--force quantize " + m + " -o " + m + " --scheme int8").rc, 0);
}

// Starts `glmq ARGS` and sends `sig` after `delay_ms`; returns the wait status.
int RunAndSignal(const std::string& args, int sig, int delay_ms) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setenv("OMP_WAIT_POLICY", "passive", 1);  // no re-exec: the pid stays glmq's
    const std::string cmd = std::string("exec ") + GLMQ_CLI + " " + args + " >/dev/null 2>&1";
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
  ::kill(pid, sig);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

TEST_F(Outputs, SignalsDuringAWriteLeaveNoTempFiles) {
  const std::string m = M();
  int interrupted = 0;
  for (int sig : {SIGINT, SIGTERM, SIGKILL, SIGHUP}) {
    for (int delay : {5, 40, 150}) {
      SCOPED_TRACE(std::to_string(sig) + " after " + std::to_string(delay) + " ms");
      const int status = RunAndSignal(
          "quantize " + m + " -o " + Path("out.glmq") + " --scheme int4-g32 --search-grid 64",
          sig, delay);
      if (WIFSIGNALED(status)) {
        ++interrupted;
        EXPECT_EQ(WTERMSIG(status), sig);
        EXPECT_FALSE(fs::exists(Path("out.glmq")));
      }
      EXPECT_EQ(TempFiles(), 0);
      fs::remove(Path("out.glmq"));
    }
  }
  EXPECT_GT(interrupted, 0) << "no run was interrupted: the test proves nothing";
}

TEST_F(Outputs, StaleTempFilesOfDeadProcessesAreRemovedAndReported) {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  const std::string stale = Path("out.glmq.tmp." + std::to_string(child));
  WriteText(stale, std::string(4096, 'x'));
  const CliRun r = Glmq("quantize " + M() + " -o " + Path("out.glmq") + " --scheme int8");
  EXPECT_EQ(r.rc, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("removed '" + stale + "' (4096 bytes)"));
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(Path("out.glmq")));
}

TEST_F(Outputs, AModelTruncatedWhileInUseIsACleanError) {
  const std::string q = Q();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setenv("OMP_WAIT_POLICY", "passive", 1);
    const std::string cmd = std::string("exec ") + GLMQ_CLI + " generate " + q +
                            " --prompt hello -n 7000 --ctx 8000 -t 1 >/dev/null 2>" +
                            Path("err.txt");
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  ASSERT_EQ(::truncate(q.c_str(), 8192), 0);  // as `cp other q` starts by doing
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
  if (WEXITSTATUS(status) == 0) GTEST_SKIP() << "generation ended before the truncation";
  EXPECT_EQ(WEXITSTATUS(status), 1);
  EXPECT_THAT(Contents(Path("err.txt")), HasSubstr("changed while it was being read"));
}

}  // namespace
}  // namespace glmq::testing
