#include "export/hf_quant_export.h"

#include <sys/stat.h>

#include <map>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "convert/safetensors.h"
#include "pipeline/source.h"
#include "schema/tensors.h"
#include "core/dtype.h"
#include "core/file.h"
#include "core/json.h"
#include "core/status.h"
#include "format/model_check.h"
#include "format/embedded.h"
#include "schema/encodings.h"

namespace glmq::gguf {
namespace {

bool IsLinear(pb::Role r) {
  return r == pb::ROLE_ATTN_QKV || r == pb::ROLE_ATTN_OUTPUT || r == pb::ROLE_FFN_GATE_UP ||
         r == pb::ROLE_FFN_DOWN;
}

// One HF tensor to write: rows [row_begin, row_end) of a canonical entry
// (values, for a vector), either dense or one of a linear's packed tensors.
struct Item {
  const pb::TensorEntry* entry;
  std::string hf_name;
  int64_t row_begin, row_end;
  enum Kind { kDense, kF32, kQweight, kQzeros, kScales, kGidx } kind;
  SafetensorsTensor info;  // name, dtype, shape, offset (in its shard), size
  int shard = 0;
};

using RowRanges = std::vector<std::pair<std::string, std::pair<int64_t, int64_t>>>;

// The HF name(s) of every tensor (schema/tensor_table.cc, in the model's
// layout) and the canonical rows each holds.
absl::StatusOr<absl::flat_hash_map<std::string, RowRanges>> HfRowRanges(const pb::HParams& hp) {
  GLMQ_ASSIGN_OR_RETURN(std::vector<ModelTensor> tensors, ModelTensors(hp, TensorSet::kText));
  absl::flat_hash_map<std::string, RowRanges> out;
  for (const ModelTensor& t : tensors) {
    RowRanges& r = out[t.name];
    int64_t begin = 0;
    for (const HfTensorName& part : HfParts(t, hp)) {
      r.push_back({part.name, {begin, begin + part.shape[0]}});
      begin += part.shape[0];
    }
  }
  return out;
}

std::string Prefix(const std::string& weight_name) {
  return weight_name.substr(0, weight_name.size() - std::string(".weight").size());
}

// Plans every HF tensor with its dtype and shape (no data yet).
absl::Status PlanItems(const pb::ModelMetadata& md, HfQuantFormat format, std::vector<Item>* items,
                       HfQuantExportStats* stats) {
  int group = 0;
  GLMQ_ASSIGN_OR_RETURN(auto ranges, HfRowRanges(md.hparams()));
  for (const pb::TensorEntry& e : md.tensors()) {
    auto it = ranges.find(e.name());
    if (it == ranges.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor '", e.name(), "' is not a text-model tensor of this layout"));
    }
    const RowRanges& parts = it->second;
    const EncodingTraits* t = FindEncoding(e.encoding());
    const int64_t cols = e.shape(e.shape_size() - 1);
    for (const auto& [name, range] : parts) {
      const int64_t n = range.second - range.first;
      if (IsLinear(e.role()) && e.shape_size() == 2) {
        if (!t->quantized || t->value_bits != 4) {
          return absl::InvalidArgumentError(absl::StrCat(
              "tensor '", e.name(), "' is ", t->name,
              t->quantized ? absl::StrCat(" g", e.group_size()) : "",
              "; AWQ/GPTQ hold 4-bit groups only (quantize with --scheme int4-g128, which exports "
              "exactly)"));
        }
        const int g = e.group_size() == 0 ? -1 : e.group_size();
        if (group != 0 && g != group) {
          return absl::InvalidArgumentError(absl::StrCat("tensor '", e.name(), "' has group size ",
                                                         g, ", others ", group,
                                                         ": one quantization_config "
                                                         "holds one group size"));
        }
        group = g;
        if (format == HfQuantFormat::kAwq && g == -1) {
          return absl::InvalidArgumentError(
              absl::StrCat("tensor '", e.name(),
                           "': AWQ needs a group size (one group per row: use --to gptq)"));
        }
        if (n % 8 != 0 || cols % 8 != 0) {
          return absl::InvalidArgumentError(absl::StrCat("tensor '", name, "': ", n, " x ", cols,
                                                         " is not a multiple of 8 both ways"));
        }
        const int64_t ng = cols / (g == -1 ? cols : g);
        const std::string p = Prefix(name);
        const bool awq = format == HfQuantFormat::kAwq;
        items->push_back(
            {&e,
             p + ".qweight",
             range.first,
             range.second,
             Item::kQweight,
             {p + ".qweight", DType::kI32,
              awq ? std::vector<int64_t>{cols, n / 8} : std::vector<int64_t>{cols / 8, n}}});
        items->push_back({&e,
                          p + ".qzeros",
                          range.first,
                          range.second,
                          Item::kQzeros,
                          {p + ".qzeros", DType::kI32, {ng, n / 8}}});
        items->push_back({&e,
                          p + ".scales",
                          range.first,
                          range.second,
                          Item::kScales,
                          {p + ".scales", DType::kF16, {ng, n}}});
        if (!awq) {
          items->push_back({&e,
                            p + ".g_idx",
                            range.first,
                            range.second,
                            Item::kGidx,
                            {p + ".g_idx", DType::kI32, {cols}}});
        }
        ++stats->quantized_linears;
        continue;
      }
      DType dt;
      const bool dense = DenseDType(e.encoding(), &dt);
      std::vector<int64_t> shape(e.shape().begin(), e.shape().end());
      shape[0] = n;
      items->push_back({&e,
                        name,
                        range.first,
                        range.second,
                        dense ? Item::kDense : Item::kF32,
                        {name, dense ? dt : DType::kF32, shape}});
      ++(dense ? stats->dense_tensors : stats->widened_to_f32);
    }
  }
  if (group == 0) return absl::InvalidArgumentError("no 4-bit block linears to export");
  stats->group_size = group;
  for (Item& it : *items) {
    uint64_t numel = 1;
    for (int64_t d : it.info.shape) numel *= d;
    it.info.size = numel * DTypeSize(it.info.dtype);
  }
  return absl::OkStatus();
}

// The packed tensors of the linear part last written: its qweight, qzeros,
// scales (and g_idx) are consecutive items, so they are packed once.
struct PackCache {
  const pb::TensorEntry* entry = nullptr;
  int64_t row_begin = -1;
  PackedInt4 packed;
};

absl::Status Pack(const TensorSource& src, const Item& it, HfQuantFormat format, PackCache* cache,
                  HfQuantExportStats* stats) {
  if (cache->entry == it.entry && cache->row_begin == it.row_begin) return absl::OkStatus();
  const pb::TensorEntry& e = *it.entry;
  const int64_t n = it.row_end - it.row_begin;
  GLMQ_ASSIGN_OR_RETURN(uint64_t row_bytes, RowBytes(e));
  std::vector<uint8_t> raw(n * row_bytes);
  GLMQ_RETURN_IF_ERROR(src.ReadRowsRaw(e, it.row_begin, it.row_end, raw.data()));
  GLMQ_ASSIGN_OR_RETURN(Int4Matrix m, Int4FromGlmq(e, raw.data(), n, it.hf_name));
  for (uint8_t z : m.zeros) {
    stats->symmetric &= z == 8;
    if (format == HfQuantFormat::kGptq && z == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor '", it.hf_name,
                       "': zero point 0 has no GPTQ v1 form (stored as zero - 1); use --to awq"));
    }
  }
  cache->packed = PackInt4(m, format);
  cache->entry = it.entry;
  cache->row_begin = it.row_begin;
  return absl::OkStatus();
}

// Writes one item: dense matrices in row chunks of ~16 MiB (memory stays
// one chunk), packed linears from the per-linear cache.
absl::Status WriteItem(const TensorSource& src, const Item& it, HfQuantFormat format,
                       PackCache* cache, AtomicOutputFile* f, HfQuantExportStats* stats) {
  const pb::TensorEntry& e = *it.entry;
  const int64_t cols = TensorCols(e);
  stats->bytes += it.info.size;
  if (e.shape_size() == 1) {  // vectors: values [row_begin, row_end) in their dtype or f32
    std::vector<float> v(cols);
    std::string out(it.info.size, '\0');
    GLMQ_RETURN_IF_ERROR(src.ReadRowsF32(e, 0, 1, v.data()));
    ConvertFromF32(it.info.dtype, v.data() + it.row_begin, out.data(), it.row_end - it.row_begin);
    return f->Write(out);
  }
  if (it.kind == Item::kDense || it.kind == Item::kF32) {
    GLMQ_ASSIGN_OR_RETURN(uint64_t row_bytes, RowBytes(e));
    const uint64_t out_row = it.kind == Item::kF32 ? cols * 4 : row_bytes;
    const int64_t chunk = std::max<int64_t>(1, (16 << 20) / out_row);
    std::vector<uint8_t> buf;
    for (int64_t r = it.row_begin; r < it.row_end; r += chunk) {
      const int64_t end = std::min(it.row_end, r + chunk);
      buf.resize((end - r) * out_row);
      GLMQ_RETURN_IF_ERROR(it.kind == Item::kF32
                               ? src.ReadRowsF32(e, r, end, reinterpret_cast<float*>(buf.data()))
                               : src.ReadRowsRaw(e, r, end, buf.data()));
      GLMQ_RETURN_IF_ERROR(f->Write(buf.data(), buf.size()));
    }
    return absl::OkStatus();
  }
  GLMQ_RETURN_IF_ERROR(Pack(src, it, format, cache, stats));
  const PackedInt4& p = cache->packed;
  const void* data = it.kind == Item::kQweight  ? static_cast<const void*>(p.qweight.data())
                     : it.kind == Item::kQzeros ? static_cast<const void*>(p.qzeros.data())
                     : it.kind == Item::kScales ? static_cast<const void*>(p.scales.data())
                                                : static_cast<const void*>(p.g_idx.data());
  return f->Write(data, it.info.size);
}

Json QuantConfig(HfQuantFormat format, const HfQuantExportStats& s) {
  Json q;
  if (format == HfQuantFormat::kAwq) {
    q = {{"quant_method", "awq"},
         {"bits", 4},
         {"group_size", s.group_size},
         {"zero_point", true},
         {"version", "gemm"}};
  } else {
    q = {{"quant_method", "gptq"}, {"bits", 4},          {"group_size", s.group_size},
         {"desc_act", false},      {"sym", s.symmetric}, {"checkpoint_format", "gptq"},
         {"static_groups", false}};
  }
  return q;
}

}  // namespace

absl::StatusOr<HfQuantExportStats> ExportHfQuant(const std::string& glmq_path,
                                                 const std::string& out_dir, HfQuantFormat format,
                                                 uint64_t shard_bytes) {
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<TensorSource> src, OpenGlmqSource(glmq_path, false));
  const pb::ModelMetadata& md = src->metadata();
  GLMQ_RETURN_IF_ERROR(CheckNoKeptColumns(md, glmq_path, "AWQ / GPTQ"));
  if (md.source_config_json().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(glmq_path, ": no source config.json recorded"));
  }
  if (FileExists(out_dir + "/config.json")) {
    return absl::InvalidArgumentError(
        absl::StrCat(out_dir, " already holds a model (config.json)"));
  }
  HfQuantExportStats stats;
  std::vector<Item> items;
  GLMQ_RETURN_IF_ERROR(Annotate(PlanItems(md, format, &items, &stats), glmq_path));
  // Shards of at most shard_bytes (a tensor never straddles two).
  std::vector<std::vector<SafetensorsTensor>> shards(1);
  uint64_t used = 0;
  for (Item& it : items) {
    if (used > 0 && used + it.info.size > shard_bytes) shards.emplace_back(), used = 0;
    it.info.offset = used;
    used += it.info.size;
    it.shard = static_cast<int>(shards.size()) - 1;
    shards.back().push_back(it.info);
  }
  ::mkdir(out_dir.c_str(), 0755);
  Json weight_map = Json::object();
  size_t next = 0;
  for (size_t s = 0; s < shards.size(); ++s) {
    const std::string name =
        absl::StrFormat("model-%05d-of-%05d.safetensors", s + 1, shards.size());
    GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<AtomicOutputFile> f,
                          AtomicOutputFile::Create(out_dir + "/" + name));
    GLMQ_RETURN_IF_ERROR(f->Write(SafetensorsHeader(shards[s])));
    PackCache cache;
    for (; next < items.size() && items[next].shard == static_cast<int>(s); ++next) {
      GLMQ_RETURN_IF_ERROR(
          Annotate(WriteItem(*src, items[next], format, &cache, f.get(), &stats), glmq_path));
      weight_map[items[next].info.name] = name;
    }
    GLMQ_RETURN_IF_ERROR(f->Commit());
  }
  stats.shards = static_cast<int>(shards.size());
  Json index = {{"metadata", {{"total_size", stats.bytes}}}, {"weight_map", weight_map}};
  GLMQ_RETURN_IF_ERROR(
      WriteFileAtomically(out_dir + "/model.safetensors.index.json", index.dump(2)));
  GLMQ_ASSIGN_OR_RETURN(Json config,
                        ParseJson(md.source_config_json(), glmq_path + ": config.json"));
  config["quantization_config"] = QuantConfig(format, stats);
  config["torch_dtype"] = "float16";
  for (const pb::EmbeddedFile& f : md.tokenizer().files()) {
    GLMQ_ASSIGN_OR_RETURN(std::string bytes, DecompressEmbeddedFile(f, glmq_path));
    GLMQ_RETURN_IF_ERROR(WriteFileAtomically(out_dir + "/" + f.name(), bytes));
  }
  if (!md.source_generation_config_json().empty()) {
    GLMQ_RETURN_IF_ERROR(WriteFileAtomically(out_dir + "/generation_config.json",
                                             md.source_generation_config_json()));
  }
  // config.json last: a folder with it is complete.
  GLMQ_RETURN_IF_ERROR(WriteFileAtomically(out_dir + "/config.json", config.dump(2)));
  return stats;
}

}  // namespace glmq::gguf
