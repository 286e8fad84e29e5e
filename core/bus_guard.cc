#include "core/bus_guard.h"

#include <setjmp.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <mutex>

#include "absl/strings/str_cat.h"

namespace glmq {
namespace {

constexpr int kMaxMappings = 256;
constexpr size_t kMaxPath = 512;

// Lock-free for the handler: begin is published last (release) and cleared
// first, so a reader that sees a begin sees the rest of the entry.
struct Mapping {
  std::atomic<uintptr_t> begin{0};
  uintptr_t end = 0;
  char path[kMaxPath];
};

Mapping g_maps[kMaxMappings];
std::mutex g_mu;  // serializes writers only
struct sigaction g_previous;

thread_local sigjmp_buf* t_jump = nullptr;
thread_local const Mapping* t_fault_map = nullptr;
thread_local uintptr_t t_fault_addr = 0;

const Mapping* Find(uintptr_t addr) {
  for (const Mapping& m : g_maps) {
    const uintptr_t b = m.begin.load(std::memory_order_acquire);
    if (b != 0 && addr >= b && addr < m.end) return &m;
  }
  return nullptr;
}

void WriteAll(const char* s) {
  size_t n = std::strlen(s);
  while (n > 0) {
    const ssize_t w = ::write(2, s, n);
    if (w <= 0) return;
    s += w;
    n -= static_cast<size_t>(w);
  }
}

void OnSigbus(int sig, siginfo_t* info, void* ctx) {
  const uintptr_t addr = reinterpret_cast<uintptr_t>(info->si_addr);
  const Mapping* m = Find(addr);
  if (m == nullptr) {
    // Not ours: hand it to whoever had it before. A fault repeats when the
    // instruction runs again under the restored action; a signal sent by
    // kill() or raise() (si_code <= 0) would not, so send it again.
    ::sigaction(SIGBUS, &g_previous, nullptr);
    if (info->si_code <= 0) ::raise(sig);
    return;
  }
  if (t_jump != nullptr) {
    t_fault_map = m;
    t_fault_addr = addr;
    siglongjmp(*t_jump, 1);
  }
  WriteAll("glmq: error: '");
  WriteAll(m->path);
  WriteAll("' changed while it was being read (truncated or rewritten in place: bus error on "
           "a mapped page); files must not be modified while glmq reads them\n");
  ::_exit(1);
}

void InstallOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa;
    std::memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = OnSigbus;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGBUS, &sa, &g_previous);
  });
}

}  // namespace

void RegisterMapping(const void* addr, uint64_t size, const std::string& path) {
  if (addr == nullptr || size == 0) return;
  InstallOnce();
  std::lock_guard<std::mutex> lock(g_mu);
  for (Mapping& m : g_maps) {
    if (m.begin.load(std::memory_order_relaxed) != 0) continue;
    const size_t n = std::min(path.size(), kMaxPath - 1);
    std::memcpy(m.path, path.data(), n);
    m.path[n] = '\0';
    m.end = reinterpret_cast<uintptr_t>(addr) + size;
    m.begin.store(reinterpret_cast<uintptr_t>(addr), std::memory_order_release);
    return;
  }
}

void UnregisterMapping(const void* addr) {
  if (addr == nullptr) return;
  std::lock_guard<std::mutex> lock(g_mu);
  for (Mapping& m : g_maps) {
    if (m.begin.load(std::memory_order_relaxed) == reinterpret_cast<uintptr_t>(addr)) {
      m.begin.store(0, std::memory_order_release);
    }
  }
}

absl::Status GuardedRead(void (*fn)(void*), void* arg) {
  sigjmp_buf jump;
  sigjmp_buf* const outer = t_jump;
  if (sigsetjmp(jump, 1) != 0) {
    t_jump = outer;
    const Mapping* m = t_fault_map;
    return absl::DataLossError(absl::StrCat(
        "'", m->path, "' changed while it was being read: byte ",
        t_fault_addr - m->begin.load(std::memory_order_acquire),
        " of its mapping is gone (the file was truncated or rewritten in place)"));
  }
  t_jump = &jump;
  fn(arg);
  t_jump = outer;
  return absl::OkStatus();
}

}  // namespace glmq
