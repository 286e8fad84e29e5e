// GLM-4.1V's ViT (VisionTower::EncodePatches).
#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "runtime/vision/vision_ops.h"
#include "runtime/vision/vision_tower.h"

namespace glmq {
namespace {

// The patch-grid (row, col) of every input row, in the processor's order:
// frame, merge window (row-major), patch inside the window (row-major).
void PatchPositions(const PatchGrid& g, int64_t merge, std::vector<int32_t>* rows,
                    std::vector<int32_t>* cols) {
  rows->clear();
  cols->clear();
  for (int64_t f = 0; f < g.t; ++f)
    for (int64_t wy = 0; wy < g.h / merge; ++wy)
      for (int64_t wx = 0; wx < g.w / merge; ++wx)
        for (int64_t i = 0; i < merge; ++i)
          for (int64_t j = 0; j < merge; ++j) {
            rows->push_back(static_cast<int32_t>(wy * merge + i));
            cols->push_back(static_cast<int32_t>(wx * merge + j));
          }
}

}  // namespace

absl::Status VisionTower::Glm41vBlock(int i, const PatchGrid& grid, const float* rope,
                                      Buffers* b) {
  const VisionConfig& c = config_;
  const VisionLayerWeights& l = weights_.layers[i];
  const int64_t h = c.hidden_size, n = grid.t * grid.h * grid.w;
  const int64_t frame = grid.h * grid.w;
  const float eps = static_cast<float>(c.norm_eps);
  // x += proj(attn(rope(qkv(norm1(x)))))
  k_->RmsNorm(b->x.data(), n, h, l.attn_norm.data(), eps, b->normed.data());
  GLMQ_RETURN_IF_ERROR(MatMul(l.attn_qkv, b->normed.data(), n, b->qkv.data(), l.attn_qkv_bias));
  for (float* qk : {b->qkv.data(), b->qkv.data() + h}) {
    k_->Rope2dNeox(qk, 3 * h, n, c.n_heads, c.head_dim(), rope);
  }
  for (int64_t f = 0; f < grid.t; ++f) {  // attention stays inside each frame
    k_->Attention(b->qkv.data() + f * frame * 3 * h, {frame, c.n_heads, c.head_dim(), 3 * h},
                  b->attn.data() + f * frame * h);
  }
  GLMQ_RETURN_IF_ERROR(MatMul(l.attn_out, b->attn.data(), n, b->proj.data()));
  k_->Add(b->x.data(), b->proj.data(), n * h);
  // x += down(silu(gate(n)) * up(n)), n = norm2(x)
  k_->RmsNorm(b->x.data(), n, h, l.ffn_norm.data(), eps, b->normed.data());
  GLMQ_RETURN_IF_ERROR(MatMul(l.ffn_gate, b->normed.data(), n, b->gate.data()));
  GLMQ_RETURN_IF_ERROR(MatMul(l.ffn_up, b->normed.data(), n, b->up.data()));
  k_->SiluMul(b->gate.data(), b->up.data(), n * c.mlp_size, b->gate.data());
  GLMQ_RETURN_IF_ERROR(MatMul(l.ffn_down, b->gate.data(), n, b->proj.data()));
  k_->Add(b->x.data(), b->proj.data(), n * h);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<float>> VisionTower::EncodePatches(absl::Span<const float> patches,
                                                              const PatchGrid& grid,
                                                              const VisionTraceFn& trace) {
  const VisionConfig& c = config_;
  const VisionWeights& w = weights_;
  if (c.layout != pb::LAYOUT_GLM4V) {
    return absl::FailedPreconditionError("EncodePatches: not a GLM-4.1V tower");
  }
  const int64_t m = c.merge_size, h = c.hidden_size, n = grid.t * grid.h * grid.w;
  if (grid.t < 1 || grid.h < m || grid.w < m || grid.h % m != 0 || grid.w % m != 0) {
    return absl::InvalidArgumentError(absl::StrCat("EncodePatches: grid (t, h, w) = (", grid.t,
                                                   ", ", grid.h, ", ", grid.w,
                                                   ") needs t >= 1 and h, w multiples of ", m));
  }
  if (static_cast<int64_t>(patches.size()) != n * c.patch_values()) {
    return absl::InvalidArgumentError(absl::StrCat("EncodePatches: ", patches.size(),
                                                   " values, expected ", n, " patches of ",
                                                   c.patch_values()));
  }
  const int64_t side = static_cast<int64_t>(std::lround(std::sqrt(c.n_positions)));
  if (side * side != c.n_positions) {
    return absl::InvalidArgumentError(absl::StrCat("EncodePatches: the position table of ",
                                                   c.n_positions, " rows is not square"));
  }
  GLMQ_ASSIGN_OR_RETURN(Buffers b, Allocate(n));
  std::vector<int32_t> rows, cols;
  PatchPositions(grid, m, &rows, &cols);
  // Host-side inputs: the patches, the position table resampled to the grid
  // ([n, hidden]) and the 2-D RoPE rows ([n, head_dim]).
  std::vector<float> pos(n * h);
  const std::vector<float> table = DenseToF32(w.pos_embed);  // [side, side, hidden]
  vision::BicubicResample(table.data(), side, side, h, grid.h, grid.w, rows.data(), cols.data(), n,
                          pos.data(), be_.n_threads());
  const std::vector<float> rope_table =
      vision::Rope2dTable(rows.data(), cols.data(), n, c.head_dim(), c.rope_theta);
  GLMQ_ASSIGN_OR_RETURN(BackendFloats dev_patches, Upload(patches.data(), patches.size()));
  GLMQ_ASSIGN_OR_RETURN(BackendFloats rope, Upload(rope_table.data(), rope_table.size()));
  // Conv3d (k = stride = (T, p, p)) as a matrix: each row already is (C, T, p, p).
  GLMQ_RETURN_IF_ERROR(
      MatMul(w.patch_embed, dev_patches.data(), n, b.x.data(), w.patch_embed_bias));
  GLMQ_RETURN_IF_ERROR(Emit(trace, "patch_embed", b.x.data(), n, h));
  k_->RmsNorm(b.x.data(), n, h, w.post_conv_norm.data(), static_cast<float>(c.norm_eps),
              b.x.data());
  GLMQ_RETURN_IF_ERROR(Emit(trace, "post_conv_layernorm", b.x.data(), n, h));
  GLMQ_RETURN_IF_ERROR(be_.CopyFromHost(pos.data(), n * h, b.proj.data()));
  GLMQ_RETURN_IF_ERROR(Emit(trace, "pos_embed_interpolated", b.proj.data(), n, h));
  k_->Add(b.x.data(), b.proj.data(), n * h);
  GLMQ_RETURN_IF_ERROR(Emit(trace, "embed", b.x.data(), n, h));
  for (int i = 0; i < c.n_layers; ++i) {
    GLMQ_RETURN_IF_ERROR(Glm41vBlock(i, grid, rope.data(), &b));
    GLMQ_RETURN_IF_ERROR(Emit(trace, absl::StrCat("block", i), b.x.data(), n, h));
  }
  k_->RmsNorm(b.x.data(), n, h, w.post_norm.data(), static_cast<float>(c.norm_eps), b.x.data());
  GLMQ_RETURN_IF_ERROR(Emit(trace, "post_layernorm", b.x.data(), n, h));
  // Rows already come in windows of merge^2: the conv reads them in order.
  const int64_t n_out = n / (m * m), out_h = c.out_hidden_size;
  std::vector<int64_t> src_rows(n);
  for (int64_t r = 0; r < n; ++r) src_rows[r] = r;
  GLMQ_ASSIGN_OR_RETURN(BackendFloats out, BackendFloats::Allocate(&be_, n_out * out_h));
  GLMQ_RETURN_IF_ERROR(Downsample(b.x.data(), src_rows, n_out, out.data()));
  GLMQ_RETURN_IF_ERROR(Emit(trace, "downsample", out.data(), n_out, out_h));
  GLMQ_RETURN_IF_ERROR(Merger(out.data(), n_out));
  GLMQ_ASSIGN_OR_RETURN(std::vector<float> host, ToHost(out.data(), n_out * out_h));
  if (trace) trace("out", host.data(), n_out, out_h);
  return host;
}

}  // namespace glmq
