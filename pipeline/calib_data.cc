#include "pipeline/calib_data.h"

#include <memory>
#include <mutex>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "format/stats_file.h"
#include "schema/tensors.h"

namespace glmq {
namespace {

absl::Status CheckStatsMatchModel(const StatsFile& file, const pb::HParams& hp,
                                  const calib::WeightFn& weights) {
  const calib::pb::StatsMetadata& m = file.metadata();
  for (const calib::pb::InputRecord& r : m.inputs()) {
    int layer = 0;
    LinearInput which = LinearInput::kNone;
    const int64_t want = ParseLinearWeightName(r.weight(), &layer, &which)
                             ? LinearInputCols(hp, which)
                             : hp.hidden_size();
    if (r.layer() >= hp.n_layers() || r.cols() != want)
      return absl::FailedPreconditionError(absl::StrCat(
          file.path(), ": statistics for ", r.weight(), " (layer ", r.layer(), ", ", r.cols(),
          " channels) do not fit this model (", hp.n_layers(), " layers, ", want,
          " channels): it was calibrated on ", m.model_path()));
  }
  if (m.weights_xxh64() != 0) {
    GLMQ_ASSIGN_OR_RETURN(std::vector<float> w, weights(FingerprintWeight()));
    if (WeightsFingerprint(w) != m.weights_xxh64())
      return absl::FailedPreconditionError(absl::StrCat(
          file.path(), ": calibrated on a different model (", m.model_path(), "): ",
          FingerprintWeight(), " differs"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<CalibData> OpenCalibData(const std::string& stats_path, const pb::HParams& hp,
                                        const calib::WeightFn& weights, bool cache_records) {
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<StatsFile> opened, StatsFile::Open(stats_path));
  std::shared_ptr<StatsFile> file = std::move(opened);
  GLMQ_RETURN_IF_ERROR(CheckStatsMatchModel(*file, hp, weights));
  const size_t cache_size = cache_records ? 4 : 0;
  auto cache =
      std::make_shared<absl::flat_hash_map<std::string, std::shared_ptr<const InputStats>>>();
  auto mu = std::make_shared<std::mutex>();
  CalibData data;
  data.stats = [file, cache, mu, cache_size](const std::string& weight)
      -> absl::StatusOr<std::shared_ptr<const InputStats>> {
    std::lock_guard<std::mutex> lock(*mu);
    auto it = cache->find(weight);
    if (it != cache->end()) return it->second;
    GLMQ_ASSIGN_OR_RETURN(InputStats s, file->Load(weight));
    if (cache->size() >= cache_size) cache->clear();
    auto p = std::make_shared<const InputStats>(std::move(s));
    if (cache_size > 0) (*cache)[weight] = p;
    return p;
  };
  data.has = [file](const std::string& weight) { return file->Find(weight) != nullptr; };
  const calib::pb::StatsMetadata& m = file->metadata();
  data.has_xtx = m.has_xtx();
  data.info.set_data_name(m.data_name());
  data.info.set_data_xxh64(m.data_xxh64());
  data.info.set_n_tokens(m.n_tokens());
  data.info.set_n_windows(m.n_windows());
  data.info.set_window(m.window());
  data.info.set_stats_file(file->path());
  return data;
}

}  // namespace glmq
