// Progress for long work: "name  3.2/18.8 GB  1.45 GB/s  ETA 0:11" on a
// terminal, redrawn in place at most ~10 times a second; silent when stderr
// is not a terminal (pipes, CI logs) unless forced. Not thread-safe: call
// from one thread.
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
  // Prints a final summary line (also when not a terminal) and stops.
  void Finish();
  double elapsed_seconds() const;
  static void SetEnabledForTest(bool enabled);

 private:
  void Draw(bool final);
  std::string title_;
  std::string unit_;
  std::string item_;
  uint64_t total_;
  uint64_t done_ = 0;
  bool enabled_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

// "1.23 GiB", "512 KiB", "17 B".
std::string FormatBytes(uint64_t bytes);
// "1:02:03" / "4:05".
std::string FormatDuration(double seconds);

}  // namespace glmq
