// .npy files (NumPy format versions 1-3, little-endian, C order): token ids
// in, logits out. The reader checks magic, version, header, dtype, shape and
// the data size before use and names the file in every error; the writer
// streams rows through an AtomicOutputFile, so a [32768, vocab] logits file
// never has to be in memory at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/file.h"

namespace glmq {

// A 1-D int32 array ('<i4'; also accepts shape (1, n) or (n, 1)).
absl::StatusOr<std::vector<int32_t>> ReadNpyInt32(const std::string& path);

// Writes a float32 ('<f4') array of shape [rows, cols], row by row.
// Not thread-safe; the file appears under its name only after Finish().
class NpyF32Writer {
 public:
  static absl::StatusOr<std::unique_ptr<NpyF32Writer>> Create(const std::string& path, int64_t rows,
                                                              int64_t cols);
  // Appends whole rows (values.size() a multiple of cols).
  absl::Status Append(absl::Span<const float> values);
  // Error unless exactly rows x cols values were appended.
  absl::Status Finish();

 private:
  std::unique_ptr<AtomicOutputFile> out_;
  int64_t rows_ = 0, cols_ = 0, written_ = 0;  // written_: values
};

}  // namespace glmq
