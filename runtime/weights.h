// Where the forward pass gets its weights: a WeightSource maps canonical
// tensor names (schema/tensors.h) to checked WeightViews of their stored
// bytes (schema/weight.h). GlmqWeightSource reads a .glmq file (zero-copy views into the
// mapping); InMemoryWeightSource holds tensors built in memory (tests,
// synthetic models, the raw chatglm4-real reference). Thread-safe for reads.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "schema/glmq.pb.h"
#include "schema/weight.h"

namespace glmq {

class GlmqFile;

class WeightSource {
 public:
  virtual ~WeightSource() = default;
  virtual const pb::HParams& hparams() const = 0;
  // The tensor's view, checked against its encoding and shape
  // (MakeWeightView). NotFound naming the tensor if there is none of that
  // name; InvalidArgument if its bytes do not fit its encoding.
  virtual absl::StatusOr<WeightView> Find(absl::string_view name) const = 0;
  // A short description for messages ("model.glmq", "in-memory").
  virtual std::string Describe() const = 0;
};

class InMemoryWeightSource : public WeightSource {
 public:
  explicit InMemoryWeightSource(pb::HParams hparams) : hparams_(std::move(hparams)) {}
  // Adds (or replaces) a tensor stored as f32 / bf16 / raw encoded bytes.
  void AddF32(const std::string& name, std::vector<int64_t> shape, const std::vector<float>& v);
  void AddBf16(const std::string& name, std::vector<int64_t> shape, const std::vector<float>& v);
  void AddEncoded(const std::string& name, pb::Encoding encoding, int32_t group_size,
                  std::vector<int64_t> shape, std::string bytes);

  const pb::HParams& hparams() const override { return hparams_; }
  absl::StatusOr<WeightView> Find(absl::string_view name) const override;
  std::string Describe() const override { return "in-memory weights"; }

 private:
  struct Entry {
    pb::Encoding encoding;
    int32_t group_size;
    Shape shape;
    std::string bytes;
  };
  pb::HParams hparams_;
  std::map<std::string, Entry, std::less<>> tensors_;
};

// A .glmq file as a weight source. Owns the file.
class GlmqWeightSource : public WeightSource {
 public:
  // Threads hashing at open (measured on the 9B, docs/hardening.md).
  static constexpr int kVerifyThreads = 2;
  // Opens and validates the file (GlmqFile::Open, the hparams validator);
  // with `verify`, recomputes the checksums of every text tensor the model
  // reads (verify-on-load: a corrupted tensor is an error naming it, not
  // NaN perplexity or garbage text; --no-verify in the tools skips it).
  static absl::StatusOr<std::unique_ptr<GlmqWeightSource>> Open(const std::string& path,
                                                                bool verify = true);
  explicit GlmqWeightSource(std::unique_ptr<GlmqFile> file);
  ~GlmqWeightSource() override;

  const GlmqFile& file() const { return *file_; }
  const pb::HParams& hparams() const override;
  absl::StatusOr<WeightView> Find(absl::string_view name) const override;
  std::string Describe() const override;

 private:
  std::unique_ptr<GlmqFile> file_;
};

}  // namespace glmq
