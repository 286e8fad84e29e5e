#include "convert/write_pipeline.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/types/span.h"

namespace glmq {
namespace {
// GlmqWriter::AppendTensorData writes a slice then hashes it: in 1 MiB
// slices the hash reads what write() just copied from L2, not from memory.
constexpr uint64_t kSliceBytes = 1 << 20;
}  // namespace

PipelinedTensorWriter::PipelinedTensorWriter(GlmqWriter* writer, int n_buffers,
                                             uint64_t buffer_bytes)
    : writer_(writer), buffer_bytes_(buffer_bytes), buffers_(std::max(2, n_buffers)) {
  for (int i = static_cast<int>(buffers_.size()) - 1; i >= 0; --i) free_.push_back(i);
  thread_ = std::thread([this] { Run(); });
}

PipelinedTensorWriter::~PipelinedTensorWriter() {
  {
    std::lock_guard<std::mutex> l(mu_);
    closing_ = true;
    if (error_.ok()) error_ = absl::CancelledError("pipelined writer destroyed");
    queue_.clear();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

absl::Status PipelinedTensorWriter::Push(Item item) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!error_.ok()) return error_;
    queue_.push_back(std::move(item));
  }
  cv_.notify_all();
  return absl::OkStatus();
}

absl::Status PipelinedTensorWriter::BeginTensor(pb::TensorEntry entry) {
  Item item;
  item.kind = Item::kBegin;
  item.entry = std::move(entry);
  return Push(std::move(item));
}

absl::Status PipelinedTensorWriter::EndTensor() {
  Item item;
  item.kind = Item::kEnd;
  return Push(std::move(item));
}

uint8_t* PipelinedTensorWriter::AcquireBuffer(uint64_t bytes) {
  if (bytes > buffer_bytes_) return nullptr;
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait(l, [&] { return !free_.empty() || !error_.ok(); });
  if (!error_.ok()) return nullptr;
  acquired_ = free_.back();
  free_.pop_back();
  l.unlock();
  std::vector<uint8_t>& b = buffers_[acquired_];
  if (b.size() < bytes) b.resize(buffer_bytes_);  // once per buffer
  return b.data();
}

absl::Status PipelinedTensorWriter::Submit(uint64_t bytes) {
  if (acquired_ < 0) return absl::FailedPreconditionError("Submit without AcquireBuffer");
  Item item;
  item.kind = Item::kData;
  item.buffer = acquired_;
  item.bytes = bytes;
  acquired_ = -1;
  return Push(std::move(item));
}

absl::Status PipelinedTensorWriter::Close() {
  {
    std::lock_guard<std::mutex> l(mu_);
    closing_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> l(mu_);
  return error_;
}

void PipelinedTensorWriter::Run() {
  for (;;) {
    Item item;
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return !queue_.empty() || closing_; });
      if (queue_.empty()) return;  // closing and drained
      item = std::move(queue_.front());
      queue_.pop_front();
    }
    absl::Status s;
    switch (item.kind) {
      case Item::kBegin: s = writer_->BeginTensor(std::move(item.entry)); break;
      case Item::kEnd: s = writer_->EndTensor(); break;
      case Item::kData: {
        const uint8_t* p = buffers_[item.buffer].data();
        for (uint64_t off = 0; off < item.bytes && s.ok(); off += kSliceBytes) {
          s = writer_->AppendTensorData({p + off, std::min(kSliceBytes, item.bytes - off)});
        }
        break;
      }
    }
    {
      std::lock_guard<std::mutex> l(mu_);
      if (item.kind == Item::kData) free_.push_back(item.buffer);
      if (!s.ok() && error_.ok()) error_ = s;
      if (!error_.ok()) {
        queue_.clear();
        closing_ = true;
      }
    }
    cv_.notify_all();
    if (!s.ok()) return;
  }
}

}  // namespace glmq
