#include "pipeline/source.h"
#include "pipeline/verified_source.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "convert/hf_checkpoint.h"
#include "convert/hf_metadata.h"
#include "convert/layout.h"
#include "core/checksum.h"
#include "core/dtype.h"
#include "core/status.h"
#include "format/reader.h"
#include "quant/dequantize.h"
#include "schema/encodings.h"

namespace glmq {

namespace {

absl::Status CheckRows(const pb::TensorEntry& e, int64_t b, int64_t end) {
  if (b < 0 || b > end || end > TensorRows(e)) {
    return absl::OutOfRangeError(absl::StrCat("tensor '", e.name(), "': rows [", b, ", ", end,
                                              ") out of range of ", TensorRows(e), " rows"));
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::Span<const uint8_t>> NameTensor(absl::StatusOr<absl::Span<const uint8_t>> r,
                                                     const pb::TensorEntry& e) {
  if (!r.ok()) return Annotate(r.status(), absl::StrCat("tensor '", e.name(), "'"));
  return r;
}

class HfSource : public HfTensorSource {
 public:
  absl::Status Init(const std::string& dir, bool direct_io) {
    GLMQ_ASSIGN_OR_RETURN(ckpt_, HfCheckpoint::Open(dir));
    for (const auto& shard : ckpt_->shards()) {
      GLMQ_ASSIGN_OR_RETURN(readers_[shard.get()], DirectReader::Open(shard->path(), direct_io));
    }
    std::vector<SafetensorsTensor> infos;
    for (const HfTensor& t : ckpt_->tensors()) infos.push_back(*t.tensor);
    auto mapped = MapHfTensors(ckpt_->hparams(), infos);
    if (!mapped.ok()) return Annotate(mapped.status(), dir);
    canonical_ = std::move(*mapped);
    GLMQ_ASSIGN_OR_RETURN(metadata_, HfModelMetadata(*ckpt_));
    for (size_t i = 0; i < canonical_.size(); ++i) {
      *metadata_.add_tensors() = canonical_[i].entry;
      by_name_[canonical_[i].entry.name()] = i;
    }
    return absl::OkStatus();
  }

  const pb::ModelMetadata& metadata() const override { return metadata_; }

  absl::StatusOr<absl::Span<const uint8_t>> ReadRowsInto(const pb::TensorEntry& entry,
                                                         int64_t row_begin, int64_t row_end,
                                                         AlignedBuffer* buf) const override {
    GLMQ_ASSIGN_OR_RETURN(const CanonicalTensor* c, Find(entry));
    GLMQ_RETURN_IF_ERROR(CheckRows(c->entry, row_begin, row_end));
    // The rows' ranges in the shards, in order (a fused tensor's parts).
    std::vector<FileRange> ranges;
    const bool one_row = c->entry.shape_size() == 1;
    const uint64_t row_bytes = TensorCols(c->entry) * DTypeSize(c->sources[0].dtype);
    int64_t part_row0 = 0;  // first canonical row of this part
    for (const SafetensorsTensor& s : c->sources) {
      const HfTensor* hf = ckpt_->Find(s.name);
      const DirectReader* file = readers_.at(hf->shard).get();
      if (one_row) {  // one row: the parts laid end to end
        if (row_begin < row_end) ranges.push_back({file, hf->tensor->offset, s.size});
        continue;
      }
      const int64_t part_rows = static_cast<int64_t>(s.size / row_bytes);
      const int64_t b = std::max(row_begin, part_row0),
                    e = std::min(row_end, part_row0 + part_rows);
      if (b < e)
        ranges.push_back(
            {file, hf->tensor->offset + (b - part_row0) * row_bytes, (e - b) * row_bytes});
      part_row0 += part_rows;
    }
    return NameTensor(DirectReader::ReadRanges(ranges, buf), entry);
  }

  absl::Status ReadRowsRaw(const pb::TensorEntry& entry, int64_t row_begin, int64_t row_end,
                           uint8_t* out) const override {
    GLMQ_ASSIGN_OR_RETURN(const CanonicalTensor* cp, Find(entry));
    const CanonicalTensor& c = *cp;
    GLMQ_RETURN_IF_ERROR(CheckRows(c.entry, row_begin, row_end));
    if (c.entry.shape_size() == 1) {  // one row: the parts laid end to end
      if (row_begin == row_end) return absl::OkStatus();
      for (const SafetensorsTensor& s : c.sources) {
        const HfTensor* hf = ckpt_->Find(s.name);
        std::memcpy(out, hf->shard->mapped().data() + hf->tensor->offset, s.size);
        out += s.size;
      }
      return absl::OkStatus();
    }
    const uint64_t row_bytes = TensorCols(c.entry) * DTypeSize(c.sources[0].dtype);
    int64_t part_row0 = 0;  // first canonical row of this part
    for (const SafetensorsTensor& s : c.sources) {
      const HfTensor* hf = ckpt_->Find(s.name);
      const int64_t part_rows = static_cast<int64_t>(s.size / row_bytes);
      const int64_t b = std::max(row_begin, part_row0);
      const int64_t e = std::min(row_end, part_row0 + part_rows);
      if (b < e) {
        const uint64_t off = hf->tensor->offset + (b - part_row0) * row_bytes;
        const uint64_t len = (e - b) * row_bytes;
        std::memcpy(out + (b - row_begin) * row_bytes, hf->shard->mapped().data() + off, len);
        // Streaming: keep mapped shard pages from piling up in our RSS.
        hf->shard->mapped().DropRange(off, len);
      }
      part_row0 += part_rows;
    }
    return absl::OkStatus();
  }

  absl::Status HashShards(const std::function<void(uint64_t)>& progress) override {
    constexpr uint64_t kChunk = 64ull << 20;
    uint64_t done = 0;
    pb::Provenance* p = metadata_.mutable_provenance();
    for (size_t i = 0; i < ckpt_->shards().size(); ++i) {
      const MappedFile& m = ckpt_->shards()[i]->mapped();
      m.AdviseSequential(0, m.size());
      Xxh64 h;
      for (uint64_t off = 0; off < m.size(); off += kChunk) {
        const uint64_t len = std::min(kChunk, m.size() - off);
        h.Update(m.data() + off, len);
        m.DropRange(off, len);
        done += len;
        if (progress) progress(done);
      }
      for (pb::SourceFile& f : *p->mutable_source_files()) {
        if (f.name() == ckpt_->shard_names()[i]) f.set_xxh64(h.Digest());
      }
    }
    return absl::OkStatus();
  }

  uint64_t shard_bytes() const override {
    uint64_t n = 0;
    for (const auto& s : ckpt_->shards()) n += s->mapped().size();
    return n;
  }

 private:
  absl::StatusOr<const CanonicalTensor*> Find(const pb::TensorEntry& entry) const {
    auto it = by_name_.find(entry.name());
    if (it == by_name_.end()) {
      return absl::NotFoundError(absl::StrCat(ckpt_->dir(), ": no tensor '", entry.name(), "'"));
    }
    return &canonical_[it->second];
  }

  std::unique_ptr<HfCheckpoint> ckpt_;
  std::vector<CanonicalTensor> canonical_;
  absl::flat_hash_map<std::string, size_t> by_name_;
  // ReadRowsInto's readers, one per shard.
  absl::flat_hash_map<const SafetensorsFile*, std::unique_ptr<DirectReader>> readers_;
  pb::ModelMetadata metadata_;
};

// Row chunks are read with pread() on a descriptor of their own rather than
// copied out of the mapping: on a cold file, faulting 32 MiB slices in
// through an MADV_SEQUENTIAL mapping read 0.87 GB/s where pread of the same
// blocks read 1.13 GB/s (docs/benchmarks.md, quantize throughput), and the
// pages never enter our address space (no RSS to drop).
class GlmqSource : public TensorSource {
 public:
  absl::Status Init(const std::string& path, bool direct_io) {
    GLMQ_ASSIGN_OR_RETURN(file_, GlmqFile::Open(path));
    GLMQ_ASSIGN_OR_RETURN(reader_, DirectReader::Open(path, direct_io));
    return absl::OkStatus();
  }
  const pb::ModelMetadata& metadata() const override { return file_->metadata(); }

  absl::StatusOr<absl::Span<const uint8_t>> ReadRowsInto(const pb::TensorEntry& entry,
                                                         int64_t row_begin, int64_t row_end,
                                                         AlignedBuffer* buf) const override {
    GLMQ_ASSIGN_OR_RETURN(const FileRange r, Range(entry, row_begin, row_end));
    return NameTensor(DirectReader::ReadRanges({r}, buf), entry);
  }

  absl::Status ReadRowsRaw(const pb::TensorEntry& entry, int64_t row_begin, int64_t row_end,
                           uint8_t* out) const override {
    GLMQ_ASSIGN_OR_RETURN(const FileRange r, Range(entry, row_begin, row_end));
    return Annotate(reader_->ReadAt(r.pos, r.len, out), absl::StrCat("tensor '", entry.name(), "'"));
  }

 private:
  // The file bytes of rows [row_begin, row_end) of `entry`.
  absl::StatusOr<FileRange> Range(const pb::TensorEntry& entry, int64_t row_begin,
                                  int64_t row_end) const {
    const pb::TensorEntry* e = file_->FindTensor(entry.name());
    if (e == nullptr) {
      return absl::NotFoundError(absl::StrCat(file_->path(), ": no tensor '", entry.name(), "'"));
    }
    GLMQ_RETURN_IF_ERROR(CheckRows(*e, row_begin, row_end));
    GLMQ_ASSIGN_OR_RETURN(uint64_t row_bytes, RowBytes(*e));
    absl::Span<const uint8_t> data = file_->TensorData(*e);  // validated at Open
    const uint64_t off = row_begin * row_bytes, len = (row_end - row_begin) * row_bytes;
    return FileRange{reader_.get(),
                     static_cast<uint64_t>(data.data() - file_->mapped().data()) + off, len};
  }

  std::unique_ptr<GlmqFile> file_;
  std::unique_ptr<DirectReader> reader_;
};

}  // namespace

absl::Status TensorSource::ReadRowsF32(const pb::TensorEntry& entry, int64_t row_begin,
                                       int64_t row_end, float* out) const {
  const EncodingTraits* t = FindEncoding(entry.encoding());
  if (t == nullptr || entry.encoding() == pb::ENCODING_I32) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tensor '", entry.name(), "': encoding ",
        t ? std::string(t->name) : pb::Encoding_Name(entry.encoding()), " cannot be read as f32"));
  }
  GLMQ_RETURN_IF_ERROR(CheckRows(entry, row_begin, row_end));
  const int64_t rows = row_end - row_begin, cols = TensorCols(entry);
  if (entry.encoding() == pb::ENCODING_F32) {
    return ReadRowsRaw(entry, row_begin, row_end, reinterpret_cast<uint8_t*>(out));
  }
  // f16/bf16 are converted, q8/q4/q4a decoded by the reference dequantizer
  // (quant/dequantize.h), from a copy of just these rows.
  GLMQ_ASSIGN_OR_RETURN(uint64_t row_bytes, RowBytes(entry));
  std::vector<uint8_t> raw(row_bytes * rows);
  GLMQ_RETURN_IF_ERROR(ReadRowsRaw(entry, row_begin, row_end, raw.data()));
  return Annotate(DequantizeRows(entry.encoding(), entry.group_size(), rows, cols, raw, 0, rows,
                                 out),
                  absl::StrCat("tensor '", entry.name(), "'"));
}

const pb::TensorEntry* TensorSource::FindTensor(absl::string_view name) const {
  for (const pb::TensorEntry& e : metadata().tensors()) {
    if (e.name() == name) return &e;
  }
  return nullptr;
}

absl::StatusOr<absl::Span<const uint8_t>> TensorSource::ReadRowsInto(const pb::TensorEntry& entry,
                                                                     int64_t row_begin,
                                                                     int64_t row_end,
                                                                     AlignedBuffer* buf) const {
  GLMQ_RETURN_IF_ERROR(CheckRows(entry, row_begin, row_end));
  GLMQ_ASSIGN_OR_RETURN(uint64_t row_bytes, RowBytes(entry));
  const uint64_t len = row_bytes * (row_end - row_begin);
  buf->Reserve(len);
  GLMQ_RETURN_IF_ERROR(ReadRowsRaw(entry, row_begin, row_end, buf->data()));
  return absl::Span<const uint8_t>(buf->data(), len);
}

absl::StatusOr<std::unique_ptr<HfTensorSource>> OpenHfCheckpoint(const std::string& dir,
                                                                 bool direct_io) {
  auto s = std::make_unique<HfSource>();
  GLMQ_RETURN_IF_ERROR(s->Init(dir, direct_io));
  return s;
}

absl::StatusOr<std::unique_ptr<TensorSource>> OpenGlmqSource(const std::string& path,
                                                             bool direct_io) {
  auto s = std::make_unique<GlmqSource>();
  GLMQ_RETURN_IF_ERROR(s->Init(path, direct_io));
  return VerifyingSource(std::move(s));  // checksums checked as the rows stream
}

}  // namespace glmq
