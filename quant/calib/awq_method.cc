#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "quant/calib/methods.h"
#include "schema/encodings.h"
#include "schema/tensors.h"

namespace glmq::calib {
namespace {

// The model the alpha search scores with: E[x_j^2] alone (options.diagonal)
// or ActivationModelFor's.
absl::StatusOr<ActivationModel> SearchModel(const InputStats& s, const AwqOptions& options) {
  if (!options.diagonal) return ActivationModelFor(s);
  if (s.count <= 0) return absl::InvalidArgumentError(absl::StrCat(s.weight, ": no rows"));
  std::vector<double> d(s.sum_x2.size());
  for (size_t j = 0; j < d.size(); ++j) d[j] = s.sum_x2[j] / static_cast<double>(s.count);
  return ActivationModel::FromDiagonal(std::move(d));
}

std::vector<float> MeanAbs(const InputStats& s) {
  std::vector<float> m(s.cols);
  for (int64_t j = 0; j < s.cols; ++j)
    m[j] = static_cast<float>(s.sum_abs[j] / static_cast<double>(s.count));
  return m;
}

// The block tensors an AWQ fold may rewrite (BlockFold).
constexpr pb::Role kBlockRoles[] = {pb::ROLE_ATTN_NORM,   pb::ROLE_ATTN_QKV,
                                    pb::ROLE_ATTN_QKV_BIAS, pb::ROLE_ATTN_OUTPUT,
                                    pb::ROLE_FFN_NORM,    pb::ROLE_FFN_GATE_UP,
                                    pb::ROLE_FFN_GATE_UP_BIAS, pb::ROLE_FFN_DOWN};

}  // namespace

absl::StatusOr<AwqPlan> BuildAwqPlan(const pb::HParams& hp, const WeightFn& weights,
                                     const StatsFn& stats, const SpecFn& spec,
                                     const AwqOptions& options,
                                     const std::function<void(int)>& on_layer) {
  AwqPlan plan;
  BlockDims d{hp.hidden_size(), hp.n_heads(), hp.n_kv_heads(), hp.head_dim(),
              hp.ffn_hidden_size()};
  for (int i = 0; i < hp.n_layers(); ++i) {
    auto name = [i](pb::Role role) { return TensorName(role, i); };
    std::optional<QuantSpec> s = spec(name(pb::ROLE_ATTN_QKV));
    // Layers left out of the statistics (glmq calibrate --layers) stay rtn.
    absl::StatusOr<std::shared_ptr<const InputStats>> probe = stats(name(pb::ROLE_ATTN_QKV));
    if (!s || absl::IsNotFound(probe.status())) {
      plan.blocks.emplace_back();
      continue;
    }
    BlockTensors t;
    GLMQ_ASSIGN_OR_RETURN(t.qkv, weights(name(pb::ROLE_ATTN_QKV)));
    GLMQ_ASSIGN_OR_RETURN(t.attn_output, weights(name(pb::ROLE_ATTN_OUTPUT)));
    GLMQ_ASSIGN_OR_RETURN(t.gate_up, weights(name(pb::ROLE_FFN_GATE_UP)));
    GLMQ_ASSIGN_OR_RETURN(t.down, weights(name(pb::ROLE_FFN_DOWN)));
    GLMQ_ASSIGN_OR_RETURN(auto s_qkv, stats(name(pb::ROLE_ATTN_QKV)));
    GLMQ_ASSIGN_OR_RETURN(auto s_ctx, stats(name(pb::ROLE_ATTN_OUTPUT)));
    GLMQ_ASSIGN_OR_RETURN(auto s_ffn, stats(name(pb::ROLE_FFN_GATE_UP)));
    GLMQ_ASSIGN_OR_RETURN(auto s_down, stats(name(pb::ROLE_FFN_DOWN)));
    GLMQ_ASSIGN_OR_RETURN(ActivationModel a_qkv, SearchModel(*s_qkv, options));
    GLMQ_ASSIGN_OR_RETURN(ActivationModel a_ctx, SearchModel(*s_ctx, options));
    GLMQ_ASSIGN_OR_RETURN(ActivationModel a_ffn, SearchModel(*s_ffn, options));
    GLMQ_ASSIGN_OR_RETURN(ActivationModel a_down, SearchModel(*s_down, options));
    BlockInputs in{&a_qkv, &a_ctx, &a_ffn, &a_down, MeanAbs(*s_qkv), MeanAbs(*s_ctx),
                   MeanAbs(*s_ffn), MeanAbs(*s_down)};
    QuantSpec qs = *s;
    if (!options.searched_rtn) qs.search_grid = 0;
    auto scales = AwqSearchBlock(d, t, in, qs, options);
    if (!scales.ok()) return Annotate(scales.status(), absl::StrCat("AWQ block ", i));
    for (pb::Role role : {pb::ROLE_ATTN_QKV, pb::ROLE_ATTN_OUTPUT, pb::ROLE_FFN_GATE_UP,
                          pb::ROLE_FFN_DOWN})
      plan.searched.insert(name(role));
    for (pb::Role role : kBlockRoles) {
      TensorFold f = BlockFold(d, *scales, role);
      if (!f.identity()) plan.folds[name(role)] = std::move(f);
    }
    plan.blocks.push_back(std::move(*scales));
    if (on_layer) on_layer(i);
  }
  const std::string output = TensorName(pb::ROLE_OUTPUT);
  std::optional<QuantSpec> so = spec(output);
  if (so && !hp.tied_embeddings() && !absl::IsNotFound(stats(output).status())) {
    GLMQ_ASSIGN_OR_RETURN(std::vector<float> w, weights(output));
    GLMQ_ASSIGN_OR_RETURN(auto s_out, stats(output));
    GLMQ_ASSIGN_OR_RETURN(ActivationModel a_out, SearchModel(*s_out, options));
    QuantSpec qs = *so;
    if (!options.searched_rtn) qs.search_grid = 0;
    const int64_t cols = hp.hidden_size(), rows = static_cast<int64_t>(w.size()) / cols;
    GLMQ_ASSIGN_OR_RETURN(AwqScaleResult r, AwqSearchScale(w.data(), rows, cols, a_out,
                                                           MeanAbs(*s_out), qs, options));
    plan.output_scale = r.scale;
    plan.searched.insert(output);
    if (!TensorFold{r.scale, {}}.identity()) {
      plan.folds[output].col_mul = r.scale;
      plan.folds[TensorName(pb::ROLE_OUTPUT_NORM)].row_div = r.scale;
    }
  }
  return plan;
}

const TensorFold* AwqMethod::FoldFor(const std::string& name) const {
  auto it = plan_.folds.find(name);
  return it == plan_.folds.end() ? nullptr : &it->second;
}

void AwqMethod::TransformRows(const std::string& name, float* w, int64_t row_begin,
                              int64_t n_rows, int64_t cols) const {
  const TensorFold* f = FoldFor(name);
  if (f != nullptr) ApplyFold(*f, w, row_begin, n_rows, cols);
}

absl::Status AwqMethod::BeginTensor(const TensorQuantJob& job) {
  act_.reset();
  const std::string& name = job.entry->name();
  if (plan_.searched.count(name) == 0) return absl::OkStatus();  // not AWQ'd: plain RTN
  const TensorFold* f = FoldFor(name);  // null: alpha = 0, the input is unscaled
  GLMQ_ASSIGN_OR_RETURN(std::shared_ptr<const InputStats> s, stats_(name));
  GLMQ_ASSIGN_OR_RETURN(GroupGeometry geo,
                        GetGroupGeometry(job.spec.encoding, job.spec.group_size, job.cols));
  GLMQ_ASSIGN_OR_RETURN(ActivationModel a, ActivationModelFor(*s, geo.g));
  if (a.cols() != job.cols)
    return absl::InvalidArgumentError(absl::StrCat(name, ": statistics of ", a.cols(),
                                                   " channels for ", job.cols, " columns"));
  act_ = f == nullptr || f->col_mul.empty() ? std::move(a) : a.Scaled(f->col_mul);
  return absl::OkStatus();
}

absl::Status AwqMethod::QuantizeRows(const TensorQuantJob& job, const float* w, int64_t row_begin,
                                     int64_t n_rows, uint8_t* out, QuantStats* stats) {
  QuantSpec spec = job.spec;
  if (!options_.searched_rtn) spec.search_grid = 0;
  std::vector<float> clipped(w, w + n_rows * job.cols);
  if (act_ && options_.clip) {
    QuantSpec plain = spec;
    plain.search_grid = 0;
    GLMQ_ASSIGN_OR_RETURN(std::vector<float> ratios,
                          AwqSearchClip(w, n_rows, job.cols, *act_, plain, options_));
    GLMQ_RETURN_IF_ERROR(ApplyClip(clipped.data(), n_rows, job.cols, plain, ratios.data()));
  }
  QuantWeighting weighting;
  std::vector<float> importance;
  if (act_ && options_.rank_by_output) {
    const ActivationModel* act = &*act_;
    weighting.rank = [act](int64_t, int64_t begin, const float* d, int64_t n, int64_t k,
                           double* err) { act->GroupErrors(d, begin, n, k, err); };
  } else if (act_ && options_.final_search) {
    spec.search_grid = job.spec.search_grid;
    importance = act_->Diagonal();
    weighting.importance = importance.data();
  }
  absl::StatusOr<double> nmse =
      QuantizeMatrixWeighted(clipped.data(), n_rows, job.cols, spec, weighting, out, nullptr);
  if (!nmse.ok()) return Annotate(nmse.status(), job.entry->name());
  return AddQuantStats(w, n_rows, job.cols, spec, out, stats);
}

void AwqMethod::Describe(pb::CalibrationInfo* info) const {
  info->set_method("awq");
  (*info->mutable_params())["scale_grid"] = options_.scale_grid;
  (*info->mutable_params())["clip_grid"] = options_.clip ? options_.clip_grid : 0;
  (*info->mutable_params())["max_shrink"] = options_.max_shrink;
  (*info->mutable_params())["final_search"] = options_.final_search ? 1 : 0;
  (*info->mutable_params())["searched_rtn"] = options_.searched_rtn ? 1 : 0;
  (*info->mutable_params())["rank_by_output"] = options_.rank_by_output ? 1 : 0;
  (*info->mutable_params())["search_rows"] = static_cast<double>(options_.search_rows);
  (*info->mutable_params())["seed"] = static_cast<double>(options_.seed);
}

}  // namespace glmq::calib
