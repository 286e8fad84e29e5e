#include "convert/hf_checkpoint.h"

#include <filesystem>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "convert/hf_config.h"
#include "core/file.h"
#include "core/status.h"

namespace glmq {
namespace fs = std::filesystem;

absl::Status CheckShardPath(const std::string& dir, const std::string& name) {
  if (name.empty() || name[0] == '/' || name.find('\\') != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(dir, ": shard path '", name, "' must be a relative file name"));
  }
  for (absl::string_view part : absl::StrSplit(name, '/')) {
    if (part == ".." || part == "." || part.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          dir, ": shard path '", name, "' must stay inside the checkpoint folder"));
    }
  }
  std::error_code ec;
  const fs::path root = fs::canonical(dir, ec);
  if (ec) return absl::NotFoundError(absl::StrCat(dir, ": cannot resolve folder: ", ec.message()));
  const fs::path full = fs::path(dir) / name;
  if (!fs::exists(full, ec)) {
    return absl::NotFoundError(absl::StrCat(dir, ": shard '", name, "' is missing"));
  }
  const fs::path real = fs::canonical(full, ec);
  if (ec) return absl::NotFoundError(absl::StrCat(dir, ": shard '", name, "': ", ec.message()));
  const std::string r = real.string(), base = root.string() + "/";
  if (r.compare(0, base.size(), base) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        dir, ": shard '", name, "' resolves to ", r, ", outside the checkpoint folder"));
  }
  return absl::OkStatus();
}

absl::Status HfCheckpoint::AddShard(const std::string& name) {
  GLMQ_RETURN_IF_ERROR(CheckShardPath(dir_, name));
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<SafetensorsFile> f,
                        SafetensorsFile::Open(dir_ + "/" + name));
  for (const SafetensorsTensor& t : f->tensors()) {
    if (by_name_.contains(t.name)) {
      return absl::InvalidArgumentError(absl::StrCat(
          f->path(), ": tensor '", t.name, "' also appears in another shard"));
    }
    by_name_[t.name] = static_cast<int>(tensors_.size());
    tensors_.push_back({f.get(), &t});
  }
  shard_names_.push_back(name);
  shards_.push_back(std::move(f));
  return absl::OkStatus();
}

absl::Status HfCheckpoint::LoadShards() {
  const std::string index_path = dir_ + "/model.safetensors.index.json";
  if (!FileExists(index_path)) {
    if (!FileExists(dir_ + "/model.safetensors")) {
      return absl::NotFoundError(absl::StrCat(
          dir_, ": neither model.safetensors nor model.safetensors.index.json exists"));
    }
    return AddShard("model.safetensors");
  }
  GLMQ_ASSIGN_OR_RETURN(Json index, ReadJsonFile(index_path));
  auto wm = index.find("weight_map");
  if (!index.is_object() || wm == index.end() || !wm->is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(index_path, ": field 'weight_map' must be an object"));
  }
  std::map<std::string, std::string> want;  // tensor -> shard
  std::set<std::string> shard_set;
  std::vector<std::string> order;
  for (auto it = wm->begin(); it != wm->end(); ++it) {
    if (!it.value().is_string()) {
      return absl::InvalidArgumentError(absl::StrCat(
          index_path, ": field 'weight_map' entry '", it.key(), "' must be a file name"));
    }
    const std::string shard = it.value().get<std::string>();
    want[it.key()] = shard;
    if (shard_set.insert(shard).second) order.push_back(shard);
  }
  std::sort(order.begin(), order.end());
  for (const std::string& s : order) {
    GLMQ_RETURN_IF_ERROR(Annotate(AddShard(s), index_path));
  }
  for (const auto& [tensor, shard] : want) {
    const HfTensor* t = Find(tensor);
    if (t == nullptr || t->shard->path() != dir_ + "/" + shard) {
      return absl::InvalidArgumentError(absl::StrCat(
          index_path, ": tensor '", tensor, "' is listed in shard '", shard,
          "' but that shard does not contain it"));
    }
  }
  for (const HfTensor& t : tensors_) {
    if (!want.contains(t.tensor->name)) {
      return absl::InvalidArgumentError(absl::StrCat(t.shard->path(), ": tensor '",
                                                     t.tensor->name,
                                                     "' is not listed in ", index_path));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<HfCheckpoint>> HfCheckpoint::Open(const std::string& dir) {
  std::unique_ptr<HfCheckpoint> c(new HfCheckpoint());
  c->dir_ = dir;
  while (c->dir_.size() > 1 && c->dir_.back() == '/') c->dir_.pop_back();
  if (absl::Status s = CheckInputDirectory(c->dir_); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat(s.message(), " (expected a checkpoint folder)"));
  }
  const std::string config_path = c->dir_ + "/config.json";
  GLMQ_ASSIGN_OR_RETURN(c->config_json_, ReadFileToString(config_path, InputKind::kJson));
  GLMQ_ASSIGN_OR_RETURN(c->config_, ParseJson(c->config_json_, config_path));
  GLMQ_ASSIGN_OR_RETURN(c->hparams_, HParamsFromHfConfig(c->config_, config_path));
  const std::string pre = c->dir_ + "/preprocessor_config.json";
  if (c->hparams_.layout() == pb::LAYOUT_GLM4V && FileExists(pre)) {
    GLMQ_ASSIGN_OR_RETURN(Json p, ReadJsonFile(pre));
    GLMQ_RETURN_IF_ERROR(FillImagePreprocess(p, pre, &c->hparams_));
  }
  const std::string gen = c->dir_ + "/generation_config.json";
  if (FileExists(gen)) {
    GLMQ_ASSIGN_OR_RETURN(c->generation_config_json_, ReadFileToString(gen, InputKind::kJson));
    GLMQ_RETURN_IF_ERROR(ParseJson(c->generation_config_json_, gen).status());
  }
  for (const char* name :
       {"tokenizer.model", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja"}) {
    const std::string p = c->dir_ + "/" + name;
    if (!FileExists(p)) continue;
    GLMQ_ASSIGN_OR_RETURN(std::string bytes,
                          ReadFileToString(p, std::string(name) == "tokenizer_config.json"
                                                  ? InputKind::kJson
                                                  : InputKind::kTokenizer));
    c->tokenizer_files_.emplace_back(name, std::move(bytes));
  }
  GLMQ_RETURN_IF_ERROR(c->LoadShards());
  return c;
}

const HfTensor* HfCheckpoint::Find(absl::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace glmq
