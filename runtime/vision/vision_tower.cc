#include "runtime/vision/vision_tower.h"

#include <algorithm>

#include "core/status.h"
#include "runtime/vision/vision_ops.h"

namespace glmq {

absl::StatusOr<std::unique_ptr<VisionTower>> VisionTower::Load(const WeightSource& source,
                                                               const VisionConfig& config,
                                                               Backend* backend) {
  if (backend == nullptr) return absl::InvalidArgumentError("vision tower: no backend");
  GLMQ_ASSIGN_OR_RETURN(VisionWeights w, LoadVisionWeights(source, config));
  return std::unique_ptr<VisionTower>(new VisionTower(config, std::move(w), backend));
}

VisionTower::Buffers VisionTower::Allocate(int64_t n) const {
  const VisionConfig& c = config_;
  const int64_t h = c.hidden_size;
  Buffers b;
  // Shapes: x, attn, proj [n, hidden]; qkv [n, 3 hidden] (rows q|k|v);
  // gate [n, mlp]; GLM-4.1V (pre-norm, SwiGLU) also normed [n, hidden] and
  // up [n, mlp].
  b.x.resize(n * h);
  b.qkv.resize(n * 3 * h);
  b.attn.resize(n * h);
  b.proj.resize(n * h);
  b.gate.resize(n * c.mlp_size);
  if (c.layout == pb::LAYOUT_GLM4V) {
    b.normed.resize(n * h);
    b.up.resize(n * c.mlp_size);
  }
  return b;
}

absl::Status VisionTower::MatMul(const WeightView& w, const float* x, int64_t n, float* y,
                                 const std::vector<float>& bias) {
  GLMQ_RETURN_IF_ERROR(be_.MatMul(w, x, n, y));
  if (!bias.empty()) vision::AddBias(y, bias.data(), n, w.rows, threads());
  return absl::OkStatus();
}

absl::Status VisionTower::Downsample(const float* x, const std::vector<int64_t>& src_rows,
                                     int64_t n_out, float* out) {
  const VisionConfig& c = config_;
  const int64_t m2 = c.merge_size * c.merge_size;
  std::vector<float> windows(n_out * m2 * c.hidden_size);  // [n_out, hidden * m2]
  vision::GatherWindows(x, c.hidden_size, src_rows.data(), n_out, c.merge_size, windows.data(),
                        threads());
  return MatMul(weights_.downsample, windows.data(), n_out, out, weights_.downsample_bias);
}

absl::Status VisionTower::Merger(float* x, int64_t n) {
  const VisionConfig& c = config_;
  const VisionWeights& w = weights_;
  const int64_t out = c.out_hidden_size;
  std::vector<float> a(n * out);               // [n, out_hidden]
  std::vector<float> gate(n * c.merger_size);  // [n, merger]
  std::vector<float> up(n * c.merger_size);    // [n, merger]
  GLMQ_RETURN_IF_ERROR(MatMul(w.merger_proj, x, n, a.data()));
  vision::LayerNorm(a.data(), n, out, w.merger_norm.data(), w.merger_norm_bias.data(),
                    static_cast<float>(c.merger_norm_eps), a.data(), threads());
  vision::BiasGelu(a.data(), nullptr, n, out, threads());
  GLMQ_RETURN_IF_ERROR(MatMul(w.merger_gate, a.data(), n, gate.data()));
  GLMQ_RETURN_IF_ERROR(MatMul(w.merger_up, a.data(), n, up.data()));
  vision::SiluMul(gate.data(), up.data(), n * c.merger_size, gate.data(), threads());
  return MatMul(w.merger_down, gate.data(), n, x);
}

}  // namespace glmq
