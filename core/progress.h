// Progress for long work: "name  3.2/18.8 GB  1.45 GB/s  ETA 0:11". On a
// terminal it is redrawn in place at most ~10 times a second; when stderr is
// a pipe or a file (nohup, tee, CI logs) it is a plain line every 30 s, so a
// long run's log shows its ETA without filling up. Either way Finish prints a
// summary line. Not thread-safe: call from one thread.
#pragma once

#include "absl/strings/string_view.h"
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace glmq {

class Progress {
 public:
  // `total` in `unit`s ("B" prints as GB/MB, anything else as a count).
  Progress(absl::string_view title, uint64_t total, absl::string_view unit = "B");
  ~Progress();
  // Sets the item being processed (a tensor name, a layer) and the amount done.
  void Update(absl::string_view item, uint64_t done);
  void Add(absl::string_view item, uint64_t amount) { Update(item, done_ + amount); }
  // Prints a final summary line and stops.
  void Finish();
  double elapsed_seconds() const;

  enum class Mode { kOff, kTerminal, kLog };
  // Every Progress constructed from now on uses `mode` and draws at most once
  // per `interval` (tests; by default the mode follows isatty(stderr)).
  static void SetModeForTest(Mode mode, std::chrono::milliseconds interval);

 private:
  void Draw(bool final);
  std::string title_;
  std::string unit_;
  std::string item_;
  uint64_t total_;
  uint64_t done_ = 0;
  Mode mode_;
  std::chrono::milliseconds interval_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

// "1.23 GiB", "512 KiB", "17 B".
std::string FormatBytes(uint64_t bytes);
// "1:02:03" / "4:05".
std::string FormatDuration(double seconds);

}  // namespace glmq
