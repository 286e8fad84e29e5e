#include "runtime/logits_file.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/checksum.h"
#include "core/status.h"

namespace glmq {
namespace {

constexpr char kMagic[8] = {'G', 'L', 'M', 'Q', 'L', 'O', 'G', 'T'};
constexpr uint64_t kHeaderBytes = 72;

void PutU64(std::string* s, uint64_t v) { s->append(reinterpret_cast<const char*>(&v), 8); }
void PutU32(std::string* s, uint32_t v) { s->append(reinterpret_cast<const char*>(&v), 4); }
uint64_t GetU64(const uint8_t* p) { uint64_t v; std::memcpy(&v, p, 8); return v; }
uint32_t GetU32(const uint8_t* p) { uint32_t v; std::memcpy(&v, p, 4); return v; }

}  // namespace

uint64_t TokensXxh64(absl::Span<const int32_t> tokens) {
  return XxHash64(tokens.data(), tokens.size() * sizeof(int32_t));
}

absl::StatusOr<std::unique_ptr<LogitsWriter>> LogitsWriter::Create(const std::string& path,
                                                                   const LogitsHeader& header) {
  std::unique_ptr<LogitsWriter> w(new LogitsWriter());
  GLMQ_ASSIGN_OR_RETURN(w->out_, AtomicOutputFile::Create(path));
  w->header_ = header;
  std::string h(kMagic, 8);
  PutU32(&h, 1);
  PutU32(&h, header.score == ScoreMode::kAll ? 0 : 1);
  for (uint64_t v : {header.vocab, header.ctx, header.stride, header.n_windows, header.n_tokens,
                     header.tokens_xxh64, uint64_t{0}}) {
    PutU64(&h, v);
  }
  GLMQ_RETURN_IF_ERROR(w->out_->Write(h));
  return w;
}

absl::Status LogitsWriter::CheckWindowComplete() const {
  if (rows_written_ != rows_expected_)
    return absl::FailedPreconditionError(absl::StrCat("logits writer: window ", windows_, " has ",
                                                      rows_written_, " of its ", rows_expected_,
                                                      " rows"));
  return absl::OkStatus();
}

absl::Status LogitsWriter::BeginWindow(const Window& w) {
  GLMQ_RETURN_IF_ERROR(CheckWindowComplete());
  std::string rec;
  PutU64(&rec, w.begin);
  PutU64(&rec, w.len);
  PutU64(&rec, w.first_target);
  GLMQ_RETURN_IF_ERROR(out_->Write(rec));
  ++windows_;
  rows_expected_ = w.len - w.first_target;
  rows_written_ = 0;
  return absl::OkStatus();
}

absl::Status LogitsWriter::AddRows(int64_t row, absl::Span<const float> logits) {
  const int64_t rows = static_cast<int64_t>(logits.size() / header_.vocab);
  if (row != rows_written_ || logits.size() % header_.vocab != 0 ||
      rows_written_ + rows > rows_expected_) {
    return absl::InvalidArgumentError(absl::StrCat("logits writer: rows ", row, " + ", rows,
                                                   " do not continue window ", windows_, " (",
                                                   rows_written_, " of ", rows_expected_, ")"));
  }
  rows_written_ += rows;
  return out_->Write(logits.data(), logits.size() * sizeof(float));
}

absl::Status LogitsWriter::Add(const Window& w, absl::Span<const float> logits) {
  if (logits.size() != static_cast<size_t>(w.len - w.first_target) * header_.vocab) {
    return absl::InvalidArgumentError("logits writer: window size does not match its logits");
  }
  GLMQ_RETURN_IF_ERROR(BeginWindow(w));
  return AddRows(0, logits);
}

absl::Status LogitsWriter::Finish() {
  GLMQ_RETURN_IF_ERROR(CheckWindowComplete());
  if (windows_ != header_.n_windows) {
    return absl::FailedPreconditionError(absl::StrCat("logits writer: ", windows_,
                                                      " windows written, header says ",
                                                      header_.n_windows));
  }
  return out_->Commit();
}

void LogitsReader::Release(const Record& r, int64_t row0, int64_t n) const {
  const uint64_t offset = reinterpret_cast<const uint8_t*>(r.logits) - file_->data() +
                          static_cast<uint64_t>(row0) * header_.vocab * sizeof(float);
  file_->DropRange(offset, static_cast<uint64_t>(n) * header_.vocab * sizeof(float));
}

absl::StatusOr<std::unique_ptr<LogitsReader>> LogitsReader::Open(const std::string& path) {
  std::unique_ptr<LogitsReader> r(new LogitsReader());
  GLMQ_ASSIGN_OR_RETURN(r->file_, MappedFile::Open(path));
  const uint8_t* p = r->file_->data();
  const uint64_t size = r->file_->size();
  auto bad = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", what));
  };
  if (size < kHeaderBytes || std::memcmp(p, kMagic, 8) != 0) return bad("not a glmq logits file");
  LogitsHeader& h = r->header_;
  h.version = GetU32(p + 8);
  if (h.version != 1) return bad(absl::StrCat("unsupported version ", h.version));
  const uint32_t mode = GetU32(p + 12);
  if (mode > 1) return bad(absl::StrCat("unknown score mode ", mode));
  h.score = mode == 0 ? ScoreMode::kAll : ScoreMode::kSecondHalf;
  h.vocab = GetU64(p + 16);
  h.ctx = GetU64(p + 24);
  h.stride = GetU64(p + 32);
  h.n_windows = GetU64(p + 40);
  h.n_tokens = GetU64(p + 48);
  h.tokens_xxh64 = GetU64(p + 56);
  if (h.vocab == 0 || h.vocab > (1u << 24)) return bad("bad vocab size");
  uint64_t off = kHeaderBytes;
  for (uint64_t i = 0; i < h.n_windows; ++i) {
    if (size - off < 24) return bad(absl::StrCat("window ", i, ": truncated record"));
    Window w{static_cast<int64_t>(GetU64(p + off)), static_cast<int64_t>(GetU64(p + off + 8)),
             static_cast<int64_t>(GetU64(p + off + 16))};
    off += 24;
    if (w.begin < 0 || w.len < 2 || w.len > static_cast<int64_t>(h.ctx) || w.first_target < 1 ||
        w.first_target >= w.len || static_cast<uint64_t>(w.begin + w.len) > h.n_tokens) {
      return bad(absl::StrCat("window ", i, ": bad begin/len/first_target"));
    }
    const uint64_t bytes = static_cast<uint64_t>(w.len - w.first_target) * h.vocab * 4;
    if (size - off < bytes) return bad(absl::StrCat("window ", i, ": truncated logits"));
    if (off % 4 != 0) return bad("misaligned logits");
    r->records_.push_back({w, reinterpret_cast<const float*>(p + off)});
    off += bytes;
  }
  if (off != size) return bad(absl::StrCat(size - off, " trailing bytes"));
  return r;
}

}  // namespace glmq
