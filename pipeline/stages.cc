#include "pipeline/stages.h"

#include <utility>

#include "core/status.h"

namespace glmq {

ReadAhead::ReadAhead(const TensorSource& src, std::vector<Job> jobs)
    : src_(src), jobs_(std::move(jobs)), thread_([this] { Run(); }) {}

ReadAhead::~ReadAhead() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

absl::StatusOr<absl::Span<const uint8_t>> ReadAhead::Next() {
  std::unique_lock<std::mutex> l(mu_);
  if (next_ > 0) released_ = next_;  // the previous chunk is handed back
  cv_.notify_all();
  if (next_ >= jobs_.size()) return absl::InternalError("stream: read past the last chunk");
  cv_.wait(l, [this] { return done_ > next_; });
  const size_t s = next_++ % kSlots;
  if (!status_[s].ok()) return status_[s];
  return data_[s];
}

void ReadAhead::Run() {
  for (size_t i = 0; i < jobs_.size(); ++i) {
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return stop_ || i < released_ + kSlots; });
      if (stop_) return;
    }
    const Job& j = jobs_[i];
    const size_t s = i % kSlots;
    absl::Status st;
    if (j.f32) {
      std::vector<float>& buf = f32_[s];
      buf.resize((j.r1 - j.r0) * TensorCols(*j.entry));
      st = src_.ReadRowsF32(*j.entry, j.r0, j.r1, buf.data());
      data_[s] = {reinterpret_cast<const uint8_t*>(buf.data()), buf.size() * sizeof(float)};
    } else {
      absl::StatusOr<absl::Span<const uint8_t>> got =
          src_.ReadRowsInto(*j.entry, j.r0, j.r1, &raw_[s]);
      st = got.status();
      if (st.ok()) data_[s] = *got;
    }
    {
      std::lock_guard<std::mutex> l(mu_);
      status_[s] = st;
      done_ = i + 1;
    }
    cv_.notify_all();
    if (!st.ok()) return;
  }
}

absl::Status WriteBehind::Wait() {
  Join();
  return std::exchange(status_, absl::OkStatus());
}

absl::Status WriteBehind::Append(std::vector<uint8_t>& data) {
  GLMQ_RETURN_IF_ERROR(Wait());
  std::swap(data, pending_);
  thread_ = std::thread([this] { status_ = writer_.AppendTensorData(pending_); });
  return absl::OkStatus();
}

}  // namespace glmq
