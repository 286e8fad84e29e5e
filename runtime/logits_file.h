// Saved reference logits (`glmq eval ppl --save-logits`, read by `glmq eval
// kld --ref-logits`). Little-endian binary:
//   header, 72 bytes:
//     char[8] magic "GLMQLOGT"; u32 version (1); u32 score_mode (0 all,
//     1 second-half); u64 vocab; u64 ctx; u64 stride; u64 n_windows;
//     u64 n_tokens; u64 tokens_xxh64 (XXH64 of the int32 token ids);
//     u64 reserved (0)
//   then per window:
//     u64 begin; u64 len; u64 first_target;
//     f32 logits[len - first_target][vocab]  (rows first_target-1 .. len-2)
// The token ids are not stored: the reader re-tokenizes the text and checks
// tokens_xxh64, so a different text or tokenizer is an error, not garbage.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/file.h"
#include "runtime/eval.h"

namespace glmq {

struct LogitsHeader {
  uint32_t version = 1;
  ScoreMode score = ScoreMode::kAll;
  uint64_t vocab = 0, ctx = 0, stride = 0, n_windows = 0, n_tokens = 0, tokens_xxh64 = 0;
};

uint64_t TokensXxh64(absl::Span<const int32_t> tokens);

// Not thread-safe. The file appears under its name only after Finish().
// A window is written as BeginWindow then its rows (any number of AddRows,
// e.g. one per prefill chunk); Add does both at once.
class LogitsWriter {
 public:
  static absl::StatusOr<std::unique_ptr<LogitsWriter>> Create(const std::string& path,
                                                              const LogitsHeader& header);
  absl::Status BeginWindow(const Window& w);
  // The window's next rows, [rows, vocab]; `row` (the first one's index among
  // the window's scored rows) must follow the rows written so far.
  absl::Status AddRows(int64_t row, absl::Span<const float> logits);
  absl::Status Add(const Window& w, absl::Span<const float> logits);
  absl::Status Finish();

 private:
  absl::Status CheckWindowComplete() const;
  std::unique_ptr<AtomicOutputFile> out_;
  LogitsHeader header_;
  uint64_t windows_ = 0;
  int64_t rows_expected_ = 0, rows_written_ = 0;  // of the current window
};

// Validates the header and every window record before use.
class LogitsReader {
 public:
  static absl::StatusOr<std::unique_ptr<LogitsReader>> Open(const std::string& path);
  const LogitsHeader& header() const { return header_; }
  struct Record {
    Window window;
    const float* logits;  // [len - first_target, vocab], valid while the reader lives
  };
  const std::vector<Record>& records() const { return records_; }
  // Drops rows [row0, row0 + n) of a record from this process's memory
  // (MappedFile::DropRange), so streaming a long window keeps RSS flat.
  void Release(const Record& r, int64_t row0, int64_t n) const;

 private:
  std::unique_ptr<MappedFile> file_;
  LogitsHeader header_;
  std::vector<Record> records_;
};

}  // namespace glmq
