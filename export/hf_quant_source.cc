#include "export/hf_quant_source.h"

#include <cstring>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "convert/hf_checkpoint.h"
#include "convert/hf_metadata.h"
#include "convert/layout.h"
#include "core/json.h"
#include "core/status.h"
#include "convert/layout.h"
#include "export/hf_quant.h"
#include "schema/hparams.h"
#include "schema/tensors.h"

namespace glmq::gguf {
namespace {

struct Part {
  const HfTensor* dense = nullptr;                                          // a plain tensor, or
  const HfTensor *qweight = nullptr, *qzeros = nullptr, *scales = nullptr;  // a packed linear
  std::string name;
  int64_t begin = 0, n = 0;  // canonical rows (values for a vector)
};

template <typename T>
std::vector<T> Copy(const HfTensor& t) {
  std::vector<T> v(t.tensor->size / sizeof(T));
  std::memcpy(v.data(), t.shard->Data(*t.tensor).data(), t.tensor->size);
  return v;
}

class HfQuantSource : public TensorSource {
 public:
  const pb::ModelMetadata& metadata() const override { return md_; }
  absl::Status ReadRowsRaw(const pb::TensorEntry& entry, int64_t row_begin, int64_t row_end,
                           uint8_t* out) const override;
  absl::Status Init(const std::string& dir);

 private:
  absl::Status ReadConfig();
  absl::StatusOr<Part> FindPart(const std::string& name, int64_t rows, int64_t cols);
  absl::Status AddTensor(const ModelTensor& t);
  std::unique_ptr<HfCheckpoint> ckpt_;
  pb::ModelMetadata md_;
  HfQuantFormat format_ = HfQuantFormat::kAwq;
  int64_t group_ = 0;  // -1: one group per row
  absl::flat_hash_map<std::string, std::vector<Part>> parts_;
};

// Every field through core/json.h's typed getters: a quantization_config
// that is not an object, or a field of the wrong type, is an error naming
// the field (nlohmann's value() would throw).
absl::Status HfQuantSource::ReadConfig() {
  const Json& c = ckpt_->config();
  const std::string w = ckpt_->dir() + "/config.json: quantization_config";
  const auto it = c.find("quantization_config");
  if (it == c.end() || !it->is_object()) return absl::InvalidArgumentError(w + " is not an object");
  const Json& q = *it;
  GLMQ_ASSIGN_OR_RETURN(const std::string method, GetString(q, "quant_method", w));
  if (method == "awq")
    format_ = HfQuantFormat::kAwq;
  else if (method == "gptq")
    format_ = HfQuantFormat::kGptq;
  else
    return absl::InvalidArgumentError(
        absl::StrCat(w, ".quant_method '", method, "' (glmq imports awq, gptq)"));
  absl::StatusOr<int64_t> bits = GetInt(q, "bits", w);
  if (!bits.ok() || *bits != 4) return absl::InvalidArgumentError(w + ".bits must be 4");
  absl::StatusOr<int64_t> group = GetInt(q, "group_size", w);
  if (!group.ok()) return absl::InvalidArgumentError(w + ".group_size must be an integer");
  group_ = *group;
  if (group_ == 0 || group_ < -1 || group_ > (1 << 20)) {
    return absl::InvalidArgumentError(absl::StrCat(w, ".group_size ", group_));
  }
  auto string_or = [&](const char* key, const char* fallback) -> absl::StatusOr<std::string> {
    if (!q.contains(key) || q[key].is_null()) return std::string(fallback);
    return GetString(q, key, w);
  };
  if (format_ == HfQuantFormat::kAwq) {
    GLMQ_ASSIGN_OR_RETURN(const std::string version, string_or("version", "gemm"));
    if (version != "gemm") {
      return absl::InvalidArgumentError(w + ".version: glmq imports AWQ 'gemm' packing only");
    }
  }
  if (format_ == HfQuantFormat::kGptq) {
    GLMQ_ASSIGN_OR_RETURN(const bool desc_act, GetOptionalBool(q, "desc_act", false, w));
    if (desc_act) return absl::InvalidArgumentError(w + ".desc_act true is not supported");
    GLMQ_ASSIGN_OR_RETURN(const std::string fmt, string_or("checkpoint_format", "gptq"));
    if (fmt != "gptq") {
      return absl::InvalidArgumentError(w + ".checkpoint_format: glmq imports 'gptq' (v1) only");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckShape(const HfTensor& t, DType dtype, std::vector<int64_t> shape) {
  if (t.tensor->dtype != dtype || t.tensor->shape != shape) {
    std::string want;
    for (int64_t d : shape) absl::StrAppend(&want, want.empty() ? "" : ", ", d);
    return absl::InvalidArgumentError(absl::StrCat("tensor '", t.tensor->name, "' must be ",
                                                   Traits(dtype).name, " [", want, "]"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Part> HfQuantSource::FindPart(const std::string& name, int64_t rows, int64_t cols) {
  Part p;
  p.name = name;
  p.n = rows;
  if ((p.dense = ckpt_->Find(name)) != nullptr) return p;
  const std::string prefix =
      absl::EndsWith(name, ".weight") ? name.substr(0, name.size() - 7) : name;
  p.qweight = ckpt_->Find(prefix + ".qweight");
  p.qzeros = ckpt_->Find(prefix + ".qzeros");
  p.scales = ckpt_->Find(prefix + ".scales");
  if (p.qweight == nullptr || p.qzeros == nullptr || p.scales == nullptr) {
    return absl::NotFoundError(absl::StrCat("tensor '", name,
                                            "' (or its .qweight, .qzeros, "
                                            ".scales) is missing"));
  }
  const int64_t g = group_ == -1 ? cols : group_;
  if (rows % 8 != 0 || cols % 8 != 0 || cols % g != 0) {
    return absl::InvalidArgumentError(absl::StrCat("tensor '", name, "': ", rows, " x ", cols,
                                                   " does not fit groups of ", g,
                                                   " and words of 8"));
  }
  const bool awq = format_ == HfQuantFormat::kAwq;
  GLMQ_RETURN_IF_ERROR(CheckShape(
      *p.qweight, DType::kI32,
      awq ? std::vector<int64_t>{cols, rows / 8} : std::vector<int64_t>{cols / 8, rows}));
  GLMQ_RETURN_IF_ERROR(CheckShape(*p.qzeros, DType::kI32, {cols / g, rows / 8}));
  GLMQ_RETURN_IF_ERROR(CheckShape(*p.scales, DType::kF16, {cols / g, rows}));
  if (const HfTensor* gi = ckpt_->Find(prefix + ".g_idx"); gi != nullptr && !awq) {
    GLMQ_RETURN_IF_ERROR(CheckShape(*gi, DType::kI32, {cols}));
    const std::vector<int32_t> idx = Copy<int32_t>(*gi);
    for (int64_t k = 0; k < cols; ++k) {
      if (idx[k] != k / g) {
        return absl::InvalidArgumentError(absl::StrCat("tensor '", prefix, ".g_idx' is not k / ", g,
                                                       " at ", k, " (act-order is not supported)"));
      }
    }
  }
  return p;
}

absl::Status HfQuantSource::AddTensor(const ModelTensor& t) {
  pb::TensorEntry e;
  e.set_name(t.name);
  e.set_role(t.role);
  e.set_layer(t.layer);
  std::vector<Part>& parts = parts_[e.name()];
  int64_t total = 0, cols = 0;
  bool quantized = false, symmetric = true;
  for (const HfTensorName& hfp : HfParts(t, md_.hparams())) {
    const int64_t rows = hfp.shape[0];
    cols = hfp.shape.size() == 2 ? hfp.shape[1] : 0;
    GLMQ_ASSIGN_OR_RETURN(Part p, FindPart(hfp.name, rows, cols ? cols : 1));
    p.begin = total;
    total += rows;
    if (p.dense != nullptr) {
      GLMQ_ASSIGN_OR_RETURN(pb::Encoding enc, EncodingForDType(p.dense->tensor->dtype, p.name));
      // Parts are copied with the entry's element size (the last part's
      // dtype): an f32 k bias between bf16 q and v biases became garbage
      // bf16 values, a bf16 part before an f32 one was read past its end.
      if (!parts.empty() && parts.front().dense != nullptr && enc != e.encoding()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "tensor '", p.name, "' is ", Traits(p.dense->tensor->dtype).name, ", unlike '",
            parts.front().name, "' which it is merged with into '", e.name(), "'"));
      }
      e.set_encoding(enc);
      GLMQ_RETURN_IF_ERROR(CheckShape(*p.dense, p.dense->tensor->dtype, hfp.shape));
    } else {
      quantized = true;
      for (int32_t w : Copy<int32_t>(*p.qzeros)) {
        const uint32_t want = format_ == HfQuantFormat::kAwq ? 0x88888888u : 0x77777777u;
        symmetric &= static_cast<uint32_t>(w) == want;
      }
    }
    e.add_source_names(p.name);
    parts.push_back(std::move(p));
  }
  e.add_shape(total);
  if (cols) e.add_shape(cols);
  if (quantized) {
    for (const Part& p : parts) {
      if (p.dense != nullptr) {
        return absl::InvalidArgumentError(absl::StrCat("tensor '", e.name(),
                                                       "' mixes packed and "
                                                       "dense parts"));
      }
    }
    e.set_encoding(symmetric ? pb::ENCODING_Q4_SYM : pb::ENCODING_Q4_ASYM);
    e.set_group_size(group_ == -1 ? 0 : static_cast<int>(group_));
  }
  *md_.add_tensors() = std::move(e);
  return absl::OkStatus();
}

absl::Status HfQuantSource::Init(const std::string& dir) {
  GLMQ_ASSIGN_OR_RETURN(ckpt_, HfCheckpoint::Open(dir));
  GLMQ_RETURN_IF_ERROR(ReadConfig());
  GLMQ_ASSIGN_OR_RETURN(md_, HfModelMetadata(*ckpt_));
  if (IsVisionLayout(md_.hparams().layout()))
    return absl::InvalidArgumentError(dir + ": vision models are not supported");
  GLMQ_ASSIGN_OR_RETURN(std::vector<ModelTensor> tensors, ModelTensors(md_.hparams()));
  for (const ModelTensor& t : tensors) GLMQ_RETURN_IF_ERROR(Annotate(AddTensor(t), dir));
  md_.mutable_provenance()->set_source_dir(dir);
  return absl::OkStatus();
}

absl::Status HfQuantSource::ReadRowsRaw(const pb::TensorEntry& entry, int64_t row_begin,
                                        int64_t row_end, uint8_t* out) const {
  auto it = parts_.find(entry.name());
  if (it == parts_.end())
    return absl::NotFoundError(absl::StrCat("no tensor '", entry.name(), "'"));
  const bool vector = entry.shape_size() == 1;
  if (row_begin < 0 || row_end > TensorRows(entry) || row_begin > row_end) {
    return absl::OutOfRangeError(absl::StrCat("tensor '", entry.name(), "': rows out of range"));
  }
  const int64_t begin = vector ? 0 : row_begin, end = vector ? TensorCols(entry) : row_end;
  GLMQ_ASSIGN_OR_RETURN(uint64_t row_bytes, RowBytes(entry));
  const uint64_t unit = vector ? row_bytes / TensorCols(entry) : row_bytes;
  for (const Part& p : it->second) {
    const int64_t lo = std::max(begin, p.begin), hi = std::min(end, p.begin + p.n);
    if (lo >= hi) continue;
    uint8_t* dst = out + (lo - begin) * unit;
    if (p.dense != nullptr) {
      std::memcpy(dst, p.dense->shard->Data(*p.dense->tensor).data() + (lo - p.begin) * unit,
                  (hi - lo) * unit);
      continue;
    }
    const int64_t cols = TensorCols(entry);
    const std::vector<int32_t> qw = Copy<int32_t>(*p.qweight), qz = Copy<int32_t>(*p.qzeros);
    const std::vector<uint16_t> sc = Copy<uint16_t>(*p.scales);
    absl::StatusOr<Int4Matrix> m =
        UnpackInt4(format_, qw.data(), qz.data(), sc.data(), p.n, cols,
                   group_ == -1 ? cols : group_, lo - p.begin, hi - p.begin);
    if (!m.ok()) return Annotate(m.status(), absl::StrCat(ckpt_->dir(), ": ", p.name));
    GLMQ_RETURN_IF_ERROR(Annotate(Int4ToGlmq(*m, entry.encoding(), dst, p.name), ckpt_->dir()));
  }
  return absl::OkStatus();
}

}  // namespace

bool IsHfQuantFolder(const std::string& dir) {
  absl::StatusOr<Json> c = ReadJsonFile(dir + "/config.json");
  return c.ok() && c->is_object() && c->contains("quantization_config");
}

absl::StatusOr<std::unique_ptr<TensorSource>> OpenHfQuantSource(const std::string& dir) {
  auto src = std::make_unique<HfQuantSource>();
  GLMQ_RETURN_IF_ERROR(src->Init(dir));
  return std::unique_ptr<TensorSource>(std::move(src));
}

absl::StatusOr<ImportStats> ImportHfQuant(const std::string& dir, const std::string& out_path,
                                          const std::string& command_line) {
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<TensorSource> src, OpenHfQuantSource(dir));
  return WriteGlmqFromSource(*src, out_path, command_line);
}

}  // namespace glmq::gguf
