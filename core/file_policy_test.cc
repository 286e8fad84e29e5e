// The input and output policies (core/input.h, core/output.h), the SIGBUS
// guard of mapped files, JSON limits and checked sizes.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/bus_guard.h"
#include "core/file.h"
#include "core/json.h"
#include "core/memory.h"
#include "core/temp_cleanup.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace glmq {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class FilePolicy : public ::testing::Test {
 protected:
  void SetUp() override {
    SetOutputMayReplaceInputs(false);  // tests/in_process_env.cc allows it
    dir_ = fs::temp_directory_path() /
           ("glmq_policy_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  std::string Write(const std::string& name, const std::string& bytes) {
    std::ofstream(Path(name), std::ios::binary) << bytes;
    return Path(name);
  }
  // Entries of the folder, for "nothing left behind" checks.
  std::vector<std::string> Listing() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_)) out.push_back(e.path().filename());
    std::sort(out.begin(), out.end());
    return out;
  }
  fs::path dir_;
};

TEST_F(FilePolicy, FifoDeviceAndDirectoryAreRefusedWithoutBlocking) {
  const std::string fifo = Path("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto r = ReadFileToString(fifo);  // would block forever on open() without the policy
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("is a FIFO, not a regular file"));
  auto z = ReadFileToString("/dev/zero");  // would never end without the policy
  ASSERT_FALSE(z.ok());
  EXPECT_THAT(std::string(z.status().message()), HasSubstr("character device"));
  EXPECT_FALSE(MappedFile::Open(fifo).ok());
  EXPECT_FALSE(MappedFile::Open("/dev/zero").ok());
  auto d = ReadFileToString(dir_.string());
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(std::string(d.status().message()), HasSubstr("is a directory"));
  EXPECT_TRUE(CheckInputDirectory(dir_.string()).ok());
  EXPECT_FALSE(CheckInputDirectory(fifo).ok());
}

TEST_F(FilePolicy, SizeLimitPerKind) {
  const std::string big = Write("big.json", std::string((64 << 20) + 1, ' '));
  auto r = ReadJsonFile(big);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("over the limit of 67108864"));
  EXPECT_TRUE(ReadFileToString(big, InputKind::kText).ok());
}

TEST_F(FilePolicy, OutputRefusesDevicesDirectoriesAndInputs) {
  auto dev = AtomicOutputFile::Create("/dev/null");
  ASSERT_FALSE(dev.ok());
  EXPECT_THAT(std::string(dev.status().message()), HasSubstr("character device"));
  EXPECT_FALSE(AtomicOutputFile::Create(dir_.string()).ok());
  const std::string in = Write("in.bin", "source");
  ASSERT_TRUE(MappedFile::Open(in).ok());  // registers it as an input
  const std::string link = Path("hardlink.bin");
  ASSERT_EQ(::link(in.c_str(), link.c_str()), 0);
  for (const std::string& out : {in, link}) {
    absl::Status s = WriteFileAtomically(out, "clobber");
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << out;
    EXPECT_THAT(std::string(s.message()), HasSubstr("--force"));
  }
  EXPECT_EQ(*ReadFileToString(in), "source");
  SetOutputMayReplaceInputs(true);
  EXPECT_TRUE(WriteFileAtomically(in, "replaced").ok());
  EXPECT_EQ(*ReadFileToString(in), "replaced");
}

TEST_F(FilePolicy, UnfinishedOutputLeavesNothingAndCommitReplaces) {
  const std::string out = Path("out.bin");
  {
    auto f = AtomicOutputFile::Create(out);
    ASSERT_TRUE(f.ok()) << f.status();
    ASSERT_TRUE((*f)->Write("partial").ok());
  }
  EXPECT_TRUE(Listing().empty());
  Write("out.bin", "old");
  auto f = AtomicOutputFile::Create(out);
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->Write("new").ok());
  ASSERT_TRUE((*f)->Commit().ok());
  EXPECT_EQ(*ReadFileToString(out), "new");
  EXPECT_EQ(Listing(), std::vector<std::string>{"out.bin"});
}

TEST_F(FilePolicy, PlantedSymlinkAtATempNameIsNotFollowed) {
  // An attacker who guesses temp names cannot redirect the write: names
  // are random and linkat/O_EXCL never follow or replace an existing name.
  const std::string victim = Write("victim", "keep");
  for (int i = 0; i < 4; ++i) {
    fs::create_symlink(victim, Path("out.bin.tmp." + std::to_string(::getpid() + i)));
  }
  ASSERT_TRUE(WriteFileAtomically(Path("out.bin"), "data").ok());
  EXPECT_EQ(*ReadFileToString(victim), "keep");
}

TEST_F(FilePolicy, StaleTempFilesOfDeadProcessesAreRemoved) {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);  // a pid that no longer runs
  const std::string stale = Write("out.bin.tmp." + std::to_string(child), std::string(100, 'x'));
  const std::string live = Write("out.bin.tmp." + std::to_string(::getpid()) + ".abc", "y");
  const std::string other = Write("other.bin.tmp." + std::to_string(child), "z");
  auto found = FindStaleTempFiles(Path("out.bin"));
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].path, stale);
  EXPECT_EQ(found[0].bytes, 100u);
  ASSERT_TRUE(WriteFileAtomically(Path("out.bin"), "data").ok());
  EXPECT_FALSE(FileExists(stale));
  EXPECT_TRUE(FileExists(live));
  EXPECT_TRUE(FileExists(other));
}

TEST_F(FilePolicy, SignalRemovesRegisteredTempFiles) {
  const std::string temp = Write("x.tmp.1", "partial");
  const pid_t child = ::fork();
  if (child == 0) {
    RegisterTempPath(temp);
    ::raise(SIGTERM);
    ::_exit(0);  // not reached
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
  EXPECT_FALSE(FileExists(temp));
}

TEST_F(FilePolicy, TruncatedMappingIsAnErrorNotACrash) {
  const std::string path = Write("mapped.bin", std::string(1 << 16, 'a'));
  auto m = MappedFile::Open(path);
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE((*m)->GuardedXxHash64(0, 1 << 16).ok());
  ASSERT_EQ(::truncate(path.c_str(), 100), 0);
  EXPECT_EQ((*m)->CheckNotTruncated().code(), absl::StatusCode::kDataLoss);
  // Past the size check: the guard turns the bus error into a status.
  struct Job {
    const uint8_t* p;
    volatile uint8_t sink;
  } job{(*m)->data() + 8192, 0};
  absl::Status s = GuardedRead([](void* a) { auto* j = static_cast<Job*>(a); j->sink = *j->p; },
                               &job);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()), HasSubstr("mapped.bin"));
  // Unguarded: a clean message and exit code 1 instead of a crash.
  const pid_t child = ::fork();
  if (child == 0) {
    ::dup2(::open("/dev/null", O_WRONLY), 2);
    volatile uint8_t x = (*m)->data()[8192];
    (void)x;
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1);
}

TEST(JsonLimits, OverflowDepthDuplicatesAndHugeIntegers) {
  auto big = ParseJson(R"({"rms_norm_eps": 1e400})", "config.json");
  ASSERT_FALSE(big.ok());
  EXPECT_THAT(std::string(big.status().message()), HasSubstr("config.json"));
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  auto d = ParseJson(deep, "deep.json");
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(std::string(d.status().message()), HasSubstr("nested deeper than 128"));
  EXPECT_TRUE(ParseJson(std::string(100, '[') + std::string(100, ']'), "ok").ok());
  auto dup = ParseJson(R"({"a": {"x": 1, "x": 2}})", "dup.json");
  ASSERT_FALSE(dup.ok());
  EXPECT_THAT(std::string(dup.status().message()), HasSubstr("key 'x' appears twice"));
  EXPECT_TRUE(ParseJson(R"([{"x": 1}, {"x": 2}])", "ok").ok());
  Json j = *ParseJson(R"({"n": 18446744073709551615, "f": 1e19, "l": [1, 18446744073709551615]})",
                      "c");
  auto n = GetInt(j, "n", "c");
  ASSERT_FALSE(n.ok());
  EXPECT_THAT(std::string(n.status().message()), HasSubstr("18446744073709551615"));
  EXPECT_FALSE(GetInt(j, "f", "c").ok());
  EXPECT_FALSE(GetIntOrIntList(j, "l", "c").ok());
}

TEST(CheckedSizes, ProductsAndMemory) {
  EXPECT_EQ(*CheckedProduct({1024, 1024, 1024}, "x"), uint64_t{1} << 30);
  EXPECT_FALSE(CheckedProduct({uint64_t{1} << 40, uint64_t{1} << 30}, "kv cache").ok());
  EXPECT_TRUE(CheckedProduct({uint64_t{1} << 40, 0, uint64_t{1} << 40}, "x").ok());
  EXPECT_FALSE(CheckedSum({uint64_t{1} << 62, uint64_t{1} << 62}, "x").ok());
  absl::Status s = CheckMemoryFor(uint64_t{1} << 62, "the KV cache");
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(s.message()), HasSubstr("the KV cache needs"));
  EXPECT_TRUE(CheckMemoryFor(1 << 20, "a little").ok());
}

}  // namespace
}  // namespace glmq
