// The two threads around the per-tensor transform of the stream
// (pipeline/stream.h): ReadAhead reads the row chunks of every tensor, in
// the order they are consumed, on a thread of its own; WriteBehind appends
// encoded chunks to the writer on a second thread. Together they keep the
// disk busy while the calling thread converts or quantizes, with a fixed
// number of chunk buffers, so memory does not grow with the model.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/direct_read.h"
#include "format/writer.h"
#include "pipeline/source.h"

namespace glmq {

class ReadAhead {
 public:
  // One chunk: rows [r0, r1) of `entry`, as stored or (f32) decoded to f32.
  struct Job {
    const pb::TensorEntry* entry;
    int64_t r0, r1;
    bool f32;
  };
  // Starts reading `jobs` in order, up to kSlots - 1 chunks ahead of the
  // consumer. Stored bytes come through TensorSource::ReadRowsInto (O_DIRECT
  // where the source allows), f32 rows through ReadRowsF32.
  ReadAhead(const TensorSource& src, std::vector<Job> jobs);
  ~ReadAhead();
  // The next job's bytes; valid until the next call (which hands the slot
  // back). An error of the read is returned here, in order. One consumer.
  absl::StatusOr<absl::Span<const uint8_t>> Next();

 private:
  static constexpr size_t kSlots = 3;
  void Run();

  const TensorSource& src_;
  const std::vector<Job> jobs_;
  // Job i in slot i % kSlots: its bytes data_ (in raw_ or f32_), status_.
  AlignedBuffer raw_[kSlots];
  std::vector<float> f32_[kSlots];
  absl::Span<const uint8_t> data_[kSlots];
  absl::Status status_[kSlots];
  std::mutex mu_;
  std::condition_variable cv_;
  size_t next_ = 0;      // jobs handed to the consumer
  size_t released_ = 0;  // jobs whose slot the consumer gave back
  size_t done_ = 0;      // jobs read
  bool stop_ = false;
  std::thread thread_;   // last: starts after the members above exist
};

// Appends a tensor's encoded chunks to the writer on a second thread while
// the next chunk is encoded (write() copies into the page cache: ~10 % of
// the CPU when done in line). Wait() before BeginTensor/EndTensor/Finish.
class WriteBehind {
 public:
  explicit WriteBehind(GlmqWriter& writer) : writer_(writer) {}
  ~WriteBehind() { Join(); }
  // Waits for the append in flight; returns its error, if any.
  absl::Status Wait();
  // Starts appending `data`; `data` gets back the buffer of the previous
  // append, whose capacity the caller reuses.
  absl::Status Append(std::vector<uint8_t>& data);

 private:
  void Join() {
    if (thread_.joinable()) thread_.join();
  }
  GlmqWriter& writer_;
  std::vector<uint8_t> pending_;
  absl::Status status_;
  std::thread thread_;
};

}  // namespace glmq
