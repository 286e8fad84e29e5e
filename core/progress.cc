#include "core/progress.h"

#include <unistd.h>

#include <cstdio>

#include "absl/strings/str_format.h"
#include "core/file.h"

namespace glmq {
namespace {
bool g_forced = false;  // SetModeForTest was called
Progress::Mode g_mode = Progress::Mode::kOff;
std::chrono::milliseconds g_interval{0};
}  // namespace

void Progress::SetModeForTest(Mode mode, std::chrono::milliseconds interval) {
  g_forced = true;
  g_mode = mode;
  g_interval = interval;
}

Progress::Progress(absl::string_view title, uint64_t total, absl::string_view unit)
    : title_(std::string(title)), unit_(std::string(unit)), total_(total) {
  if (g_forced) {
    mode_ = g_mode;
    interval_ = g_interval;
  } else if (IsTerminal(STDERR_FILENO)) {
    mode_ = Mode::kTerminal;
    interval_ = std::chrono::milliseconds(100);
  } else {
    mode_ = Mode::kLog;
    interval_ = std::chrono::seconds(30);
  }
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

Progress::~Progress() {
  if (mode_ == Mode::kTerminal && !finished_) std::fputs("\n", stderr);
}

double Progress::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::Update(absl::string_view item, uint64_t done) {
  item_ = std::string(item);
  done_ = done;
  if (mode_ == Mode::kOff) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ < interval_) return;
  last_draw_ = now;
  Draw(false);
}

void Progress::Finish() {
  if (finished_) return;
  finished_ = true;
  if (mode_ != Mode::kOff) Draw(true);
}

void Progress::Draw(bool final) {
  const double t = elapsed_seconds();
  const double rate = t > 0 ? static_cast<double>(done_) / t : 0.0;
  std::string amounts, speed;
  if (unit_ == "B") {
    amounts = absl::StrFormat("%s/%s", FormatBytes(done_), FormatBytes(total_));
    speed = absl::StrFormat("%s/s", FormatBytes(static_cast<uint64_t>(rate)));
  } else {
    amounts = absl::StrFormat("%d/%d %s", done_, total_, unit_);
    speed = absl::StrFormat("%.1f %s/s", rate, unit_);
  }
  std::string eta = final ? absl::StrFormat("in %s", FormatDuration(t))
                          : (rate > 0 && total_ >= done_
                                 ? absl::StrFormat("ETA %s", FormatDuration((total_ - done_) / rate))
                                 : std::string("ETA ?"));
  std::string item = item_.size() > 48 ? "..." + item_.substr(item_.size() - 45) : item_;
  // A terminal line is redrawn in place and ends at Finish; a log line ends now.
  const bool terminal = mode_ == Mode::kTerminal;
  const std::string tail = final || item.empty() ? "" : "  " + item;
  std::fprintf(stderr, "%s%s %s  %s  %s%s%s", terminal ? "\r\033[K" : "", title_.c_str(),
               amounts.c_str(), speed.c_str(), eta.c_str(), tail.c_str(),
               final || !terminal ? "\n" : "");
  std::fflush(stderr);
}

std::string FormatBytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024.0 && u < 4) {
    v /= 1024.0;
    ++u;
  }
  if (u == 0) return absl::StrFormat("%d B", bytes);
  return absl::StrFormat("%.2f %s", v, units[u]);
}

std::string FormatDuration(double seconds) {
  if (seconds < 0) seconds = 0;
  const uint64_t s = static_cast<uint64_t>(seconds + 0.5);
  if (s >= 3600) return absl::StrFormat("%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
  return absl::StrFormat("%d:%02d", s / 60, s % 60);
}

}  // namespace glmq
