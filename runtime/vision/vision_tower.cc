#include "runtime/vision/vision_tower.h"

#include <algorithm>

#include "core/status.h"

namespace glmq {

absl::StatusOr<std::unique_ptr<VisionTower>> VisionTower::Load(const WeightSource& source,
                                                               const VisionConfig& config,
                                                               Backend* backend) {
  if (backend == nullptr) return absl::InvalidArgumentError("vision tower: no backend");
  GLMQ_ASSIGN_OR_RETURN(VisionWeights w, LoadVisionWeights(source, config));
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<VisionKernels> k, MakeVisionKernels(backend));
  return std::unique_ptr<VisionTower>(new VisionTower(config, std::move(w), backend, std::move(k)));
}

absl::StatusOr<VisionTower::Buffers> VisionTower::Allocate(int64_t n) {
  const VisionConfig& c = config_;
  const int64_t h = c.hidden_size;
  const bool glm41v = c.layout == pb::LAYOUT_GLM4V;
  Buffers b;
  // Shapes: x, attn, proj [n, hidden]; qkv [n, 3 hidden] (rows q|k|v);
  // gate [n, mlp]; GLM-4.1V (pre-norm, SwiGLU) also normed [n, hidden] and
  // up [n, mlp].
  GLMQ_ASSIGN_OR_RETURN(b.x, BackendFloats::Allocate(&be_, n * h));
  GLMQ_ASSIGN_OR_RETURN(b.qkv, BackendFloats::Allocate(&be_, n * 3 * h));
  GLMQ_ASSIGN_OR_RETURN(b.attn, BackendFloats::Allocate(&be_, n * h));
  GLMQ_ASSIGN_OR_RETURN(b.proj, BackendFloats::Allocate(&be_, n * h));
  GLMQ_ASSIGN_OR_RETURN(b.gate, BackendFloats::Allocate(&be_, n * c.mlp_size));
  if (glm41v) {
    GLMQ_ASSIGN_OR_RETURN(b.normed, BackendFloats::Allocate(&be_, n * h));
    GLMQ_ASSIGN_OR_RETURN(b.up, BackendFloats::Allocate(&be_, n * c.mlp_size));
  }
  return b;
}

absl::StatusOr<BackendFloats> VisionTower::Upload(const float* host, int64_t n) {
  GLMQ_ASSIGN_OR_RETURN(BackendFloats b, BackendFloats::Allocate(&be_, n));
  GLMQ_RETURN_IF_ERROR(be_.CopyFromHost(host, n, b.data()));
  return b;
}

absl::StatusOr<std::vector<float>> VisionTower::ToHost(const float* data, int64_t n) {
  std::vector<float> out(n);
  GLMQ_RETURN_IF_ERROR(be_.CopyToHost(data, n, out.data()));
  return out;
}

absl::Status VisionTower::Emit(const VisionTraceFn& trace, absl::string_view stage,
                               const float* data, int64_t rows, int64_t cols) {
  if (!trace) return absl::OkStatus();
  if (be_.host_memory()) {
    trace(stage, data, rows, cols);
    return absl::OkStatus();
  }
  GLMQ_ASSIGN_OR_RETURN(std::vector<float> host, ToHost(data, rows * cols));
  trace(stage, host.data(), rows, cols);
  return absl::OkStatus();
}

absl::Status VisionTower::MatMul(const WeightView& w, const float* x, int64_t n, float* y,
                                 const std::vector<float>& bias) {
  GLMQ_RETURN_IF_ERROR(be_.MatMul(w, x, n, y));
  if (!bias.empty()) k_->AddBias(y, bias.data(), n, w.rows);
  return absl::OkStatus();
}

absl::Status VisionTower::Downsample(const float* x, const std::vector<int64_t>& src_rows,
                                     int64_t n_out, float* out) {
  const VisionConfig& c = config_;
  const int64_t m2 = c.merge_size * c.merge_size;
  GLMQ_ASSIGN_OR_RETURN(BackendFloats windows,
                        BackendFloats::Allocate(&be_, n_out * m2 * c.hidden_size));
  // windows: [n_out, hidden * m2]
  GLMQ_RETURN_IF_ERROR(
      k_->GatherWindows(x, c.hidden_size, src_rows.data(), n_out, c.merge_size, windows.data()));
  GLMQ_RETURN_IF_ERROR(
      MatMul(weights_.downsample, windows.data(), n_out, out, weights_.downsample_bias));
  return be_.Sync();  // before `windows` is freed
}

absl::Status VisionTower::Merger(float* x, int64_t n) {
  const VisionConfig& c = config_;
  const VisionWeights& w = weights_;
  const int64_t out = c.out_hidden_size;
  GLMQ_ASSIGN_OR_RETURN(BackendFloats a, BackendFloats::Allocate(&be_, n * out));  // [n, out]
  GLMQ_ASSIGN_OR_RETURN(BackendFloats gate, BackendFloats::Allocate(&be_, n * c.merger_size));
  GLMQ_ASSIGN_OR_RETURN(BackendFloats up, BackendFloats::Allocate(&be_, n * c.merger_size));
  GLMQ_RETURN_IF_ERROR(MatMul(w.merger_proj, x, n, a.data()));
  k_->LayerNorm(a.data(), n, out, w.merger_norm.data(), w.merger_norm_bias.data(),
                static_cast<float>(c.merger_norm_eps), a.data());
  k_->BiasGelu(a.data(), nullptr, n, out);
  GLMQ_RETURN_IF_ERROR(MatMul(w.merger_gate, a.data(), n, gate.data()));
  GLMQ_RETURN_IF_ERROR(MatMul(w.merger_up, a.data(), n, up.data()));
  k_->SiluMul(gate.data(), up.data(), n * c.merger_size, gate.data());
  GLMQ_RETURN_IF_ERROR(MatMul(w.merger_down, gate.data(), n, x));
  return be_.Sync();  // before the buffers are freed
}

}  // namespace glmq
