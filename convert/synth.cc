#include "convert/synth.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "convert/hf_config.h"
#include "convert/layout.h"
#include "core/checksum.h"
#include "core/dtype.h"
#include "core/file.h"
#include "core/status.h"

namespace glmq {
namespace {

// Sets every key of `keys` present in `j` (or the first if none is) to v.
void SetKeys(Json& j, std::initializer_list<const char*> keys, int64_t v) {
  bool any = false;
  for (const char* k : keys) {
    if (j.contains(k)) j[k] = v, any = true;
  }
  if (!any) j[*keys.begin()] = v;
}

absl::Status AdjustConfig(const pb::HParams& hp, const SynthOptions& o, Json* config) {
  // Out-of-range values were silently ignored (negative, NaN) or wrapped
  // (llround of 1e300 * hidden).
  if (o.layers < 0 || o.hidden < 0 || !(o.hidden_scale >= 0 && o.hidden_scale <= 1024)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--layers ", o.layers, ", --hidden ", o.hidden, ", --hidden-scale ", o.hidden_scale,
        ": layers and hidden must be >= 0 (0: as in the config), the scale within 0..1024"));
  }
  if (o.layers > 0) SetKeys(*config, {"num_layers", "num_hidden_layers"}, o.layers);
  int64_t hidden = o.hidden;
  if (hidden == 0 && o.hidden_scale > 0) hidden = std::llround(hp.hidden_size() * o.hidden_scale);
  if (hidden == 0) return absl::OkStatus();
  // Keep head_dim and the GQA ratio (hidden = n_heads * head_dim); when that
  // is too wide, keep the heads and shrink head_dim (a multiple of 4, so
  // that the rotated half is made of whole pairs).
  const int64_t group = hp.n_heads() / hp.n_kv_heads();
  int64_t heads = hidden / hp.head_dim() / group * group;
  int64_t head_dim = hp.head_dim();
  if (heads < group) {
    heads = hp.n_heads();
    head_dim = std::max<int64_t>(4, hidden / heads / 4 * 4);
    if (hp.layout() == pb::LAYOUT_CHATGLM) {
      (*config)["kv_channels"] = head_dim;
    } else {
      (*config)["head_dim"] = head_dim;
    }
  }
  const int64_t new_hidden = heads * head_dim;
  int64_t ffn = std::llround(hp.ffn_hidden_size() * double(new_hidden) / hp.hidden_size());
  ffn = std::max<int64_t>(64, (ffn + 63) / 64 * 64);
  (*config)["hidden_size"] = new_hidden;
  (*config)["num_attention_heads"] = heads;
  if (hp.layout() == pb::LAYOUT_CHATGLM) {
    (*config)["ffn_hidden_size"] = ffn;
  } else {
    (*config)["intermediate_size"] = ffn;
  }
  return absl::OkStatus();
}

uint64_t Bytes(const SafetensorsTensor& t) {
  uint64_t n = DTypeSize(t.dtype);
  for (int64_t d : t.shape) n *= d;
  return n;
}

absl::Status AssignShards(const std::vector<SafetensorsTensor>& tensors, const SynthOptions& o,
                          bool full_size, SynthPlan* plan) {
  std::map<std::string, std::string> real;  // tensor -> shard
  if (full_size && !o.real_index.empty()) {
    GLMQ_ASSIGN_OR_RETURN(Json idx, ReadJsonFile(o.real_index));
    for (auto& [k, v] : idx["weight_map"].items()) real[k] = v.get<std::string>();
  }
  std::map<std::string, size_t> by_shard;
  for (const SafetensorsTensor& t : tensors) {
    std::string shard;
    if (!real.empty()) {
      auto it = real.find(t.name);
      if (it == real.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat(o.real_index, ": has no entry for tensor '", t.name, "'"));
      }
      shard = it->second;
    } else {
      if (plan->shards.empty() || plan->shards.back().data_bytes + Bytes(t) > o.shard_bytes) {
        plan->shards.push_back({absl::StrCat(plan->shards.size()), {}, 0});
      }
      shard = plan->shards.back().name;
    }
    const size_t next = real.empty() ? plan->shards.size() - 1 : plan->shards.size();
    auto [it, added] = by_shard.emplace(shard, next);
    if (added && !real.empty()) plan->shards.push_back({shard, {}, 0});
    SynthShard& s = plan->shards[it->second];
    SafetensorsTensor placed = t;
    placed.offset = s.data_bytes;
    placed.size = Bytes(t);
    s.data_bytes += placed.size;
    s.tensors.push_back(std::move(placed));
    plan->total_bytes += Bytes(t);
  }
  if (real.empty()) {
    const size_t n = plan->shards.size();
    for (size_t i = 0; i < n; ++i) {
      plan->shards[i].name = n == 1 ? "model.safetensors"
                                    : absl::StrFormat("model-%05d-of-%05d.safetensors", i + 1, n);
    }
  }
  return absl::OkStatus();
}

// xoshiro-style 64-bit generator (splitmix64): deterministic and fast.
struct Rng {
  uint64_t s;
  uint64_t Next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
};

// Fills n bf16 values: mean + std * approx-normal (Irwin-Hall of 4 uniforms).
void FillBf16(Rng& rng, float mean, float std, uint16_t* out, int64_t n) {
  const float k = std / (65536.0f * std::sqrt(4.0f / 12.0f) * 1.0f);
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t r = rng.Next();
    const float s = float(r & 0xffff) + float((r >> 16) & 0xffff) + float((r >> 32) & 0xffff) +
                    float(r >> 48) - 2.0f * 65535.0f;
    out[i] = F32ToBf16(mean + s * k);
  }
}

absl::Status WriteShard(const SynthPlan& plan, const SynthShard& shard, uint64_t seed,
                        const std::string& dir) {
  GLMQ_ASSIGN_OR_RETURN(auto out, AtomicOutputFile::Create(dir + "/" + shard.name));
  GLMQ_RETURN_IF_ERROR(out->Write(SafetensorsHeader(shard.tensors)));
  std::vector<uint16_t> buf(8 << 20);
  const pb::HParams& hp = plan.hparams;
  for (const SafetensorsTensor& t : shard.tensors) {
    Rng rng{seed ^ XxHash64(t.name)};
    const int64_t n = static_cast<int64_t>(t.size / 2);
    const bool is_norm = t.shape.size() == 1 && t.name.find("norm") != std::string::npos;
    if (t.name.find("inv_freq") != std::string::npos) {
      // As in real checkpoints: base 10000, rope_ratio not applied.
      const int64_t dim = hp.rope_dims();
      for (int64_t i = 0; i < n; ++i) buf[i] = F32ToBf16(1.0f / std::pow(10000.0f, 2.0f * i / dim));
      GLMQ_RETURN_IF_ERROR(out->Write(buf.data(), t.size));
      continue;
    }
    for (int64_t done = 0; done < n;) {
      const int64_t m = std::min<int64_t>(n - done, buf.size());
      FillBf16(rng, is_norm ? 1.0f : 0.0f, 0.02f, buf.data(), m);
      GLMQ_RETURN_IF_ERROR(out->Write(buf.data(), m * 2));
      done += m;
    }
  }
  return out->Commit();
}

constexpr const char* kTokenizerFiles[] = {"tokenizer.model", "tokenizer.json",
                                           "tokenizer_config.json", "generation_config.json"};

// The files of SynthOptions.tokenizer, by name; errors name the path.
absl::Status PlanTokenizer(const std::vector<std::string>& paths, SynthPlan* plan) {
  namespace fs = std::filesystem;
  std::map<std::string, std::string> files;
  for (const std::string& path : paths) {
    std::error_code ec;
    std::vector<std::pair<std::string, std::string>> found;
    if (fs::is_directory(path, ec)) {
      for (const char* name : kTokenizerFiles) {
        if (FileExists(path + "/" + name)) found.emplace_back(name, path + "/" + name);
      }
    } else if (fs::is_regular_file(path, ec)) {
      const std::string name = fs::path(path).filename().string();
      if (std::find(std::begin(kTokenizerFiles), std::end(kTokenizerFiles), name) ==
          std::end(kTokenizerFiles)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--tokenizer ", path, ": not a tokenizer file (tokenizer.model, tokenizer.json, "
            "tokenizer_config.json, generation_config.json) or folder"));
      }
      found.emplace_back(name, path);
    } else {
      return absl::NotFoundError(absl::StrCat("--tokenizer ", path, ": no such file or folder"));
    }
    for (auto& [name, source] : found) {
      auto [it, inserted] = files.emplace(name, source);
      if (!inserted) {
        return absl::InvalidArgumentError(absl::StrCat("--tokenizer: two ", name, " (", it->second,
                                                       ", ", source, ")"));
      }
    }
  }
  if (!paths.empty() && !files.count("tokenizer.model") && !files.count("tokenizer.json")) {
    return absl::InvalidArgumentError("--tokenizer: no tokenizer.model or tokenizer.json given");
  }
  plan->tokenizer_files.assign(files.begin(), files.end());
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SynthPlan> PlanSynth(const Json& real_config, const SynthOptions& options) {
  GLMQ_ASSIGN_OR_RETURN(pb::HParams real, HParamsFromHfConfig(real_config, "--config"));
  SynthPlan plan;
  plan.config = real_config;
  GLMQ_RETURN_IF_ERROR(AdjustConfig(real, options, &plan.config));
  GLMQ_ASSIGN_OR_RETURN(plan.hparams, HParamsFromHfConfig(plan.config, "synthesized config"));
  GLMQ_ASSIGN_OR_RETURN(std::vector<SafetensorsTensor> tensors, ExpectedHfTensors(plan.hparams));
  const bool full = plan.hparams.n_layers() == real.n_layers() &&
                    plan.hparams.hidden_size() == real.hidden_size();
  GLMQ_RETURN_IF_ERROR(AssignShards(tensors, options, full, &plan));
  GLMQ_RETURN_IF_ERROR(PlanTokenizer(options.tokenizer, &plan));
  return plan;
}

absl::Status WriteSynth(const SynthPlan& plan, uint64_t seed, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat(dir, ": cannot create: ", ec.message()));
  GLMQ_RETURN_IF_ERROR(WriteFileAtomically(dir + "/config.json", plan.config.dump(2) + "\n"));
  for (const SynthShard& s : plan.shards) GLMQ_RETURN_IF_ERROR(WriteShard(plan, s, seed, dir));
  if (plan.shards.size() > 1 || plan.shards[0].name != "model.safetensors") {
    Json idx = {{"metadata", {{"total_size", plan.total_bytes}}}, {"weight_map", Json::object()}};
    for (const SynthShard& s : plan.shards) {
      for (const SafetensorsTensor& t : s.tensors) idx["weight_map"][t.name] = s.name;
    }
    GLMQ_RETURN_IF_ERROR(
        WriteFileAtomically(dir + "/model.safetensors.index.json", idx.dump(2) + "\n"));
  }
  for (const auto& [name, source] : plan.tokenizer_files) {
    GLMQ_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(source));
    GLMQ_RETURN_IF_ERROR(WriteFileAtomically(dir + "/" + name, bytes));
  }
  return absl::OkStatus();
}

}  // namespace glmq
