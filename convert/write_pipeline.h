// Hands tensor data from the converting thread to a writer thread that
// checksums (XXH64, in GlmqWriter) and writes it, so that reading and
// converting chunk k+1 overlaps hashing and writing chunk k. Memory stays
// bounded: the producer draws chunk buffers from a small fixed pool and
// blocks while every buffer is queued or being written.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "schema/glmq.pb.h"
#include "format/writer.h"

namespace glmq {

class PipelinedTensorWriter {
 public:
  // `writer` must outlive this object and is used only by the writer thread
  // until Close() returns. `n_buffers` (>= 2) buffers of up to
  // `buffer_bytes` each are allocated lazily.
  PipelinedTensorWriter(GlmqWriter* writer, int n_buffers, uint64_t buffer_bytes);
  // Stops the writer thread (discarding queued data if Close() was not called).
  ~PipelinedTensorWriter();
  PipelinedTensorWriter(const PipelinedTensorWriter&) = delete;
  PipelinedTensorWriter& operator=(const PipelinedTensorWriter&) = delete;

  // Producer side: one thread only. Calls queue work and return at once; an
  // error of the writer thread is returned by the next call (and Close).
  absl::Status BeginTensor(pb::TensorEntry entry);
  // A buffer of `bytes` (<= buffer_bytes) to fill and then Submit(); blocks
  // until one is free. Returns nullptr after a writer error.
  uint8_t* AcquireBuffer(uint64_t bytes);
  // Queues the `bytes` first bytes of the buffer last acquired.
  absl::Status Submit(uint64_t bytes);
  absl::Status EndTensor();
  // Waits until everything queued is written; returns the first error. The
  // caller then finishes the GlmqWriter itself.
  absl::Status Close();

 private:
  struct Item {
    enum Kind { kBegin, kData, kEnd } kind = kData;
    pb::TensorEntry entry;  // kBegin
    int buffer = -1;        // kData
    uint64_t bytes = 0;     // kData
  };
  absl::Status Push(Item item);
  void Run();  // the writer thread

  GlmqWriter* writer_;
  uint64_t buffer_bytes_;
  std::vector<std::vector<uint8_t>> buffers_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;       // guarded by mu_
  std::vector<int> free_;        // indexes of free buffers, guarded by mu_
  int acquired_ = -1;            // producer's current buffer (producer only)
  bool closing_ = false;         // guarded by mu_
  absl::Status error_;           // first writer-thread error, guarded by mu_
  std::thread thread_;
};

}  // namespace glmq
