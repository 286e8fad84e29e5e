// The calibration statistics file written by `glmq calibrate` and read by
// `glmq quantize --calib` (specs/calibration.md):
//   [0, 40)  header: "GLMQCALB", u32 version (2), u32 0, u64 metadata
//            offset, u64 metadata size, u64 XXH64 of the metadata
//   arrays   f64/f32 little-endian, 8-aligned, each with its own XXH64;
//            X^T X as the packed f32 upper triangle ("xtx_upper_f32",
//            version 2) or, in version 1 files, the f64 square ("xtx")
//   metadata calib.pb.StatsMetadata (protobuf), at the end so that inputs
//            stream out as they are finished
// Written atomically (temp + rename); every offset, size and checksum is
// validated before use.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/file.h"
#include "format/calib_stats.pb.h"
#include "schema/input_stats.h"
#include "schema/tensors.h"

namespace glmq {

// Written: 2 (X^T X as packed f32 upper triangle). Read: 1 and 2.
inline constexpr uint32_t kStatsFileVersion = 2;
inline constexpr uint32_t kStatsFileMinVersion = 1;

// The tensor whose values identify the calibrated model
// (StatsMetadata.weights_xxh64): the first layer's attn_qkv.
inline std::string FingerprintWeight() { return TensorName(pb::ROLE_ATTN_QKV, 0); }
// XXH64 of the f32 values' little-endian bytes.
uint64_t WeightsFingerprint(const std::vector<float>& values);

// Streams InputStats to a file. Not thread-safe.
class StatsWriter {
 public:
  static absl::StatusOr<std::unique_ptr<StatsWriter>> Create(const std::string& path);
  // Run-level fields (everything but `inputs`, `version`); fill any time
  // before Finish().
  calib::pb::StatsMetadata& metadata() { return meta_; }
  absl::Status Add(const InputStats& s);
  absl::Status Finish();

 private:
  explicit StatsWriter(std::unique_ptr<AtomicOutputFile> out) : out_(std::move(out)) {}
  absl::Status WriteArray(calib::pb::InputRecord* rec, const char* what, const void* data,
                          uint64_t n, bool f64);
  std::unique_ptr<AtomicOutputFile> out_;
  calib::pb::StatsMetadata meta_;
};

// Thread-safe after Open.
class StatsFile {
 public:
  static absl::StatusOr<std::unique_ptr<StatsFile>> Open(const std::string& path);
  const calib::pb::StatsMetadata& metadata() const { return meta_; }
  // nullptr if there is no record for that weight.
  const calib::pb::InputRecord* Find(const std::string& weight) const;
  // Loads (and checksums) the arrays of one record.
  absl::StatusOr<InputStats> Load(const std::string& weight) const;
  const std::string& path() const { return file_->path(); }

 private:
  StatsFile() = default;
  std::unique_ptr<MappedFile> file_;
  calib::pb::StatsMetadata meta_;
  uint64_t meta_offset_ = 0;
};

}  // namespace glmq
