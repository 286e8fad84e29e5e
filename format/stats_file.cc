#include "format/stats_file.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/checksum.h"
#include "core/status.h"

namespace glmq {

uint64_t WeightsFingerprint(const std::vector<float>& values) {
  return XxHash64(values.data(), values.size() * sizeof(float));
}

namespace {

constexpr char kMagic[8] = {'G', 'L', 'M', 'Q', 'C', 'A', 'L', 'B'};
constexpr uint64_t kHeaderBytes = 40;

void PutU32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }
void PutU64(uint8_t* p, uint64_t v) { std::memcpy(p, &v, 8); }
uint32_t GetU32(const uint8_t* p) { uint32_t v; std::memcpy(&v, p, 4); return v; }
uint64_t GetU64(const uint8_t* p) { uint64_t v; std::memcpy(&v, p, 8); return v; }

constexpr char kXtxUpperF32[] = "xtx_upper_f32";

// Packed f32 upper triangle (rows i, columns j >= i) -> symmetric f64 square.
void ExpandUpper(const uint8_t* src, uint64_t cols, std::vector<double>* xtx) {
  xtx->resize(cols * cols);
  double* x = xtx->data();
  uint64_t k = 0;
  for (uint64_t i = 0; i < cols; ++i) {
    const uint64_t len = cols - i;
    std::vector<float> row(len);
    std::memcpy(row.data(), src + 4 * k, 4 * len);
    for (uint64_t j = 0; j < len; ++j) x[i * cols + i + j] = row[j];
    k += len;
  }
  for (uint64_t i = 0; i < cols; ++i)
    for (uint64_t j = 0; j < i; ++j) x[i * cols + j] = x[j * cols + i];
}

}  // namespace

absl::StatusOr<std::unique_ptr<StatsWriter>> StatsWriter::Create(const std::string& path) {
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<AtomicOutputFile> out, AtomicOutputFile::Create(path));
  uint8_t header[kHeaderBytes] = {};
  GLMQ_RETURN_IF_ERROR(out->Write(header, kHeaderBytes));
  return std::unique_ptr<StatsWriter>(new StatsWriter(std::move(out)));
}

absl::Status StatsWriter::WriteArray(calib::pb::InputRecord* rec, const char* what,
                                     const void* data, uint64_t n, bool f64) {
  if (n == 0) return absl::OkStatus();
  GLMQ_RETURN_IF_ERROR(out_->PadTo(8));
  const uint64_t bytes = n * (f64 ? 8 : 4);
  calib::pb::ArrayRef* a = rec->add_arrays();
  a->set_what(what);
  a->set_f64(f64);
  a->set_offset(out_->position());
  a->set_n_values(n);
  a->set_xxh64(XxHash64(data, bytes));
  return out_->Write(data, bytes);
}

absl::Status StatsWriter::Add(const InputStats& s) {
  calib::pb::InputRecord* rec = meta_.add_inputs();
  rec->set_weight(s.weight);
  rec->set_layer(s.layer);
  rec->set_cols(s.cols);
  rec->set_count(s.count);
  rec->set_n_samples(s.n_samples());
  GLMQ_RETURN_IF_ERROR(WriteArray(rec, "sum_x2", s.sum_x2.data(), s.sum_x2.size(), true));
  GLMQ_RETURN_IF_ERROR(WriteArray(rec, "sum_abs", s.sum_abs.data(), s.sum_abs.size(), true));
  if (!s.xtx.empty()) {
    // X^T X is symmetric: only its upper triangle, rows packed, as f32
    // (specs/calibration.md: a quarter of the f64 square's bytes).
    const uint64_t cols = static_cast<uint64_t>(s.cols);
    if (s.xtx.size() != cols * cols)
      return absl::InvalidArgumentError(
          absl::StrCat(s.weight, ": X^T X of ", s.xtx.size(), " values for ", cols, " columns"));
    std::vector<float> upper;
    upper.reserve(cols * (cols + 1) / 2);
    for (uint64_t i = 0; i < cols; ++i)
      for (uint64_t j = i; j < cols; ++j) upper.push_back(static_cast<float>(s.xtx[i * cols + j]));
    GLMQ_RETURN_IF_ERROR(WriteArray(rec, kXtxUpperF32, upper.data(), upper.size(), false));
  }
  return WriteArray(rec, "samples", s.samples.data(), s.samples.size(), false);
}

absl::Status StatsWriter::Finish() {
  meta_.set_version(kStatsFileVersion);
  std::string meta;
  if (!meta_.SerializeToString(&meta)) return absl::InternalError("serializing stats metadata");
  GLMQ_RETURN_IF_ERROR(out_->PadTo(8));
  uint8_t header[kHeaderBytes];
  std::memcpy(header, kMagic, 8);
  PutU32(header + 8, kStatsFileVersion);
  PutU32(header + 12, 0);
  PutU64(header + 16, out_->position());
  PutU64(header + 24, meta.size());
  PutU64(header + 32, XxHash64(meta));
  GLMQ_RETURN_IF_ERROR(out_->Write(meta));
  GLMQ_RETURN_IF_ERROR(out_->PWrite(header, kHeaderBytes, 0));
  return out_->Commit();
}

absl::StatusOr<std::unique_ptr<StatsFile>> StatsFile::Open(const std::string& path) {
  std::unique_ptr<StatsFile> f(new StatsFile());
  GLMQ_ASSIGN_OR_RETURN(f->file_, MappedFile::Open(path));
  const uint8_t* p = f->file_->data();
  const uint64_t size = f->file_->size();
  auto bad = [&](const std::string& what) {
    return absl::DataLossError(absl::StrCat(path, ": ", what));
  };
  if (size < kHeaderBytes || std::memcmp(p, kMagic, 8) != 0)
    return bad("not a glmq calibration statistics file (bad magic)");
  const uint32_t version = GetU32(p + 8);
  if (version < kStatsFileMinVersion || version > kStatsFileVersion)
    return bad(absl::StrCat("version ", version, ", this glmq reads versions ",
                            kStatsFileMinVersion, " to ", kStatsFileVersion));
  const uint64_t off = GetU64(p + 16), len = GetU64(p + 24);
  if (off < kHeaderBytes || off > size || len > size - off)
    return bad(absl::StrCat("metadata [", off, ", +", len, ") outside the file of ", size, " bytes"));
  if (XxHash64(p + off, len) != GetU64(p + 32)) return bad("metadata checksum mismatch");
  if (!f->meta_.ParseFromArray(p + off, static_cast<int>(len))) return bad("unparsable metadata");
  f->meta_offset_ = off;
  for (const auto& rec : f->meta_.inputs()) {
    for (const auto& a : rec.arrays()) {
      const uint64_t width = a.f64() ? 8 : 4;
      if (a.offset() < kHeaderBytes || a.offset() > off ||
          a.n_values() > (off - a.offset()) / width)
        return bad(absl::StrCat(rec.weight(), " ", a.what(), ": array outside the payload"));
    }
  }
  return f;
}

const calib::pb::InputRecord* StatsFile::Find(const std::string& weight) const {
  for (const auto& rec : meta_.inputs())
    if (rec.weight() == weight) return &rec;
  return nullptr;
}

absl::StatusOr<InputStats> StatsFile::Load(const std::string& weight) const {
  const calib::pb::InputRecord* rec = Find(weight);
  if (rec == nullptr)
    return absl::NotFoundError(absl::StrCat(path(), ": no statistics for ", weight));
  InputStats s;
  s.weight = rec->weight();
  s.layer = rec->layer();
  s.cols = rec->cols();
  s.count = rec->count();
  const uint64_t cols = static_cast<uint64_t>(s.cols);
  for (const auto& a : rec->arrays()) {
    const uint8_t* src = file_->data() + a.offset();
    const uint64_t bytes = a.n_values() * (a.f64() ? 8 : 4);
    if (XxHash64(src, bytes) != a.xxh64())
      return absl::DataLossError(absl::StrCat(path(), ": ", weight, " ", a.what(),
                                              " checksum mismatch"));
    const std::string& w = a.what();
    const bool packed = w == kXtxUpperF32;  // version 2
    const bool is_f64 = w != "samples" && !packed;
    const uint64_t expect = w == "xtx"       ? cols * cols
                            : packed         ? cols * (cols + 1) / 2
                            : w == "samples" ? rec->n_samples() * cols
                                             : cols;
    if (a.f64() != is_f64 || a.n_values() != expect)
      return absl::DataLossError(absl::StrCat(path(), ": ", weight, " ", w, " has ",
                                              a.n_values(), " values, expected ", expect));
    if (w == "sum_x2" || w == "sum_abs" || w == "xtx") {
      std::vector<double>& dst = w == "sum_x2" ? s.sum_x2 : w == "sum_abs" ? s.sum_abs : s.xtx;
      dst.resize(a.n_values());
      std::memcpy(dst.data(), src, bytes);
    } else if (packed) {
      ExpandUpper(src, cols, &s.xtx);
    } else if (w == "samples") {
      s.samples.resize(a.n_values());
      std::memcpy(s.samples.data(), src, bytes);
    }
    // The copy is what callers use: let the mapped pages go (they would
    // otherwise stay resident, a second 8 cols^2 bytes for X^T X).
    file_->DropRange(a.offset(), bytes);
  }
  if (s.sum_x2.size() != cols || s.sum_abs.size() != cols || s.cols <= 0 || s.count <= 0)
    return absl::DataLossError(absl::StrCat(path(), ": ", weight, " record is incomplete"));
  return s;
}

}  // namespace glmq
