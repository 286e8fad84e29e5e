#include "runtime/vision/test_util.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "convert/hf_checkpoint.h"
#include "core/file.h"
#include "core/status.h"

namespace glmq::vision_test {
namespace {

template <class T>
T ReadLe(const std::string& b, size_t at) {
  T v;
  std::memcpy(&v, b.data() + at, sizeof(T));
  return v;
}

absl::StatusOr<pb::Encoding> EncodingOf(DType dt, const std::string& name) {
  switch (dt) {
    case DType::kBF16:
      return pb::ENCODING_BF16;
    case DType::kF16:
      return pb::ENCODING_F16;
    case DType::kF32:
      return pb::ENCODING_F32;
    default:
      return absl::InvalidArgumentError(absl::StrCat(name, ": not a float tensor"));
  }
}

}  // namespace

absl::StatusOr<NpyArray> ParseNpyF32(const std::string& b, const std::string& where) {
  auto err = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", what));
  };
  if (b.size() < 10 || b.compare(0, 6, "\x93NUMPY") != 0) return err("not a .npy array");
  const bool v1 = b[6] == 1;
  const size_t len = v1 ? ReadLe<uint16_t>(b, 8) : (b.size() >= 12 ? ReadLe<uint32_t>(b, 8) : 0);
  const size_t start = v1 ? 10 : 12;
  if (start + len > b.size()) return err("truncated header");
  const std::string header = b.substr(start, len);
  if (!absl::StrContains(header, "'descr': '<f4'")) return err("dtype is not '<f4'");
  if (!absl::StrContains(header, "'fortran_order': False")) return err("not C order");
  const size_t open = header.find("'shape': (");
  const size_t close = open == std::string::npos ? open : header.find(')', open);
  if (close == std::string::npos) return err("no shape");
  NpyArray a;
  int64_t count = 1;
  for (absl::string_view dim : absl::StrSplit(header.substr(open + 10, close - open - 10), ',')) {
    dim = absl::StripAsciiWhitespace(dim);
    if (dim.empty()) continue;
    int64_t d;
    if (!absl::SimpleAtoi(dim, &d) || d < 0) return err(absl::StrCat("bad dimension '", dim, "'"));
    a.shape.push_back(d);
    count *= d;
  }
  if (b.size() - start - len != static_cast<size_t>(count) * 4)
    return err("size does not match shape");
  a.data.resize(count);
  std::memcpy(a.data.data(), b.data() + start + len, count * 4);
  return a;
}

absl::StatusOr<NpyArray> ReadNpyF32(const std::string& path) {
  GLMQ_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
  return ParseNpyF32(bytes, path);
}

absl::StatusOr<std::map<std::string, NpyArray>> ReadNpzF32(const std::string& path) {
  GLMQ_ASSIGN_OR_RETURN(std::string z, ReadFileToString(path));
  auto err = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", what));
  };
  const size_t eocd = z.rfind(std::string("PK\x05\x06", 4));
  if (eocd == std::string::npos || eocd + 22 > z.size()) return err("no end of central directory");
  const uint16_t entries = ReadLe<uint16_t>(z, eocd + 10);
  size_t at = ReadLe<uint32_t>(z, eocd + 16);
  std::map<std::string, NpyArray> out;
  for (int e = 0; e < entries; ++e) {
    if (at + 46 > z.size() || ReadLe<uint32_t>(z, at) != 0x02014b50)
      return err("bad central directory");
    const uint16_t method = ReadLe<uint16_t>(z, at + 10);
    const uint64_t size = ReadLe<uint32_t>(z, at + 20);
    const uint16_t name_len = ReadLe<uint16_t>(z, at + 28), extra = ReadLe<uint16_t>(z, at + 30),
                   comment = ReadLe<uint16_t>(z, at + 32);
    const size_t local = ReadLe<uint32_t>(z, at + 42);
    std::string name = z.substr(at + 46, name_len);
    at += 46 + name_len + extra + comment;
    if (method != 0) return err(absl::StrCat(name, " is compressed (only stored members)"));
    if (size == 0xffffffffu || local == 0xffffffffu) return err("zip64 sizes are not supported");
    if (local + 30 > z.size() || ReadLe<uint32_t>(z, local) != 0x04034b50)
      return err("bad local header");
    const size_t data =
        local + 30 + ReadLe<uint16_t>(z, local + 26) + ReadLe<uint16_t>(z, local + 28);
    if (data + size > z.size()) return err(absl::StrCat(name, " runs past the end"));
    GLMQ_ASSIGN_OR_RETURN(NpyArray a,
                          ParseNpyF32(z.substr(data, size), absl::StrCat(path, ":", name)));
    out[std::string(absl::StripSuffix(name, ".npy"))] = std::move(a);
  }
  return out;
}

absl::StatusOr<FixtureTower> LoadFixtureTower(const std::string& model_dir,
                                              const std::string& prefix) {
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<HfCheckpoint> ckpt, HfCheckpoint::Open(model_dir));
  FixtureTower t;
  t.source = std::make_unique<InMemoryWeightSource>(ckpt->hparams());
  for (const HfTensor& h : ckpt->tensors()) {
    if (!absl::StartsWith(h.tensor->name, prefix)) continue;
    GLMQ_ASSIGN_OR_RETURN(pb::Encoding enc, EncodingOf(h.tensor->dtype, h.tensor->name));
    const absl::Span<const uint8_t> bytes = h.shard->Data(*h.tensor);
    t.source->AddEncoded(h.tensor->name, enc, 0, h.tensor->shape,
                         std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  }
  GLMQ_ASSIGN_OR_RETURN(t.config, VisionConfigFromHParams(ckpt->hparams()));
  const std::string where = model_dir + "/config.json: vision_config";
  auto it = ckpt->config().find("vision_config");
  if (it == ckpt->config().end()) return absl::NotFoundError(where + " is missing");
  const Json& v = *it;
  if (t.config.layout == pb::LAYOUT_CHATGLM_VISION) {
    GLMQ_ASSIGN_OR_RETURN(t.config.n_positions, GetInt(v, "num_positions", where));
    GLMQ_ASSIGN_OR_RETURN(t.config.scaling_factor, GetNumber(v, "scaling_factor", where));
    GLMQ_ASSIGN_OR_RETURN(t.config.norm_eps, GetNumber(v, "layer_norm_eps", where));
  } else {
    GLMQ_ASSIGN_OR_RETURN(t.config.qkv_bias, GetOptionalBool(v, "attention_bias", false, where));
    GLMQ_ASSIGN_OR_RETURN(t.config.norm_eps, GetNumber(v, "rms_norm_eps", where));
  }
  GLMQ_RETURN_IF_ERROR(CheckVisionConfig(t.config));
  return t;
}

double MaxAbsDiff(const std::vector<float>& a, const float* b, int64_t n) {
  if (static_cast<int64_t>(a.size()) != n) return std::numeric_limits<double>::infinity();
  double m = 0;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, std::fabs(static_cast<double>(a[i]) - b[i]));
  return m;
}

}  // namespace glmq::vision_test
