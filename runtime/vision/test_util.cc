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
#include "convert/layout.h"
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

}  // namespace

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
                                              const std::function<void(pb::HParams*)>& edit) {
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<HfCheckpoint> ckpt, HfCheckpoint::Open(model_dir));
  pb::HParams hp = ckpt->hparams();
  std::vector<SafetensorsTensor> infos;
  for (const HfTensor& h : ckpt->tensors()) infos.push_back(*h.tensor);
  GLMQ_ASSIGN_OR_RETURN(std::vector<CanonicalTensor> mapped, MapHfTensors(hp, infos));
  if (edit) edit(&hp);
  FixtureTower t;
  t.source = std::make_unique<InMemoryWeightSource>(hp);
  for (const CanonicalTensor& c : mapped) {
    if (c.entry.role() != pb::ROLE_VISION) continue;
    const HfTensor* h = ckpt->Find(c.sources.at(0).name);
    const absl::Span<const uint8_t> bytes = h->shard->Data(*h->tensor);
    t.source->AddEncoded(c.entry.name(), c.entry.encoding(), 0,
                         {c.entry.shape().begin(), c.entry.shape().end()},
                         std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  }
  GLMQ_ASSIGN_OR_RETURN(t.config, VisionConfigFromHParams(hp));
  return t;
}

double MaxAbsDiff(const std::vector<float>& a, const float* b, int64_t n) {
  if (static_cast<int64_t>(a.size()) != n) return std::numeric_limits<double>::infinity();
  double m = 0;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, std::fabs(static_cast<double>(a[i]) - b[i]));
  return m;
}

}  // namespace glmq::vision_test
