// glm-4v-9b's EVA2-CLIP tower (VisionTower::EncodeImage).
#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "runtime/vision/vision_ops.h"
#include "runtime/vision/vision_tower.h"

namespace glmq {
namespace {

// The rows of x (CLS first, then side x side patches) each merge x merge
// window of the merge conv reads, windows row-major.
std::vector<int64_t> EvaWindowRows(int64_t side, int64_t m) {
  const int64_t out_side = side / m;
  std::vector<int64_t> src_rows(out_side * out_side * m * m);
  for (int64_t oy = 0; oy < out_side; ++oy)
    for (int64_t ox = 0; ox < out_side; ++ox)
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < m; ++j) {
          src_rows[((oy * out_side + ox) * m + i) * m + j] = 1 + (oy * m + i) * side + ox * m + j;
        }
  return src_rows;
}

}  // namespace

absl::Status VisionTower::EvaLayer(int i, int64_t n, Buffers* b) {
  const VisionConfig& c = config_;
  const VisionLayerWeights& l = weights_.layers[i];
  const int64_t h = c.hidden_size;
  const float eps = static_cast<float>(c.norm_eps);
  // x = x + LN_in(dense(attn(qkv(x))))
  GLMQ_RETURN_IF_ERROR(MatMul(l.attn_qkv, b->x.data(), n, b->qkv.data(), l.attn_qkv_bias));
  k_->Attention(b->qkv.data(), {n, c.n_heads, c.head_dim(), 3 * h}, b->attn.data());
  GLMQ_RETURN_IF_ERROR(MatMul(l.attn_out, b->attn.data(), n, b->proj.data()));
  k_->AddLayerNormed(b->x.data(), b->proj.data(), l.attn_out_bias.data(), n, h,
                     l.attn_norm.data(), l.attn_norm_bias.data(), eps);
  // x = x + LN_post(fc2(gelu(fc1(x))))
  GLMQ_RETURN_IF_ERROR(MatMul(l.ffn_up, b->x.data(), n, b->gate.data()));
  k_->BiasGelu(b->gate.data(), l.ffn_up_bias.data(), n, c.mlp_size);
  GLMQ_RETURN_IF_ERROR(MatMul(l.ffn_down, b->gate.data(), n, b->proj.data()));
  k_->AddLayerNormed(b->x.data(), b->proj.data(), l.ffn_down_bias.data(), n, h,
                     l.ffn_norm.data(), l.ffn_norm_bias.data(), eps);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<float>> VisionTower::EncodeImage(absl::Span<const float> image,
                                                            int64_t height, int64_t width,
                                                            const VisionTraceFn& trace) {
  const VisionConfig& c = config_;
  const VisionWeights& w = weights_;
  if (c.layout != pb::LAYOUT_CHATGLM_VISION) {
    return absl::FailedPreconditionError("EncodeImage: not an EVA2-CLIP (glm-4v) tower");
  }
  const int64_t p = c.patch_size, side = p > 0 ? height / p : 0;
  const int64_t n_patches = side * side, h = c.hidden_size;
  if (height != width || height % p != 0 || n_patches + 1 != c.n_positions ||
      side % c.merge_size != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "EncodeImage: image ", height, "x", width, " does not fit the tower: it needs a square ",
        "image of (n_positions - 1) = ", c.n_positions - 1, " patches of ", p, " px"));
  }
  if (static_cast<int64_t>(image.size()) != c.in_channels * height * width) {
    return absl::InvalidArgumentError(absl::StrCat("EncodeImage: ", image.size(),
                                                   " pixel values, expected ", c.in_channels, "x",
                                                   height, "x", width));
  }
  const int64_t n = n_patches + 1;  // CLS first
  GLMQ_ASSIGN_OR_RETURN(Buffers b, Allocate(n));
  // Patch embedding: the Conv2d as a matrix over each patch (c, i, j).
  std::vector<float> patches(n_patches * c.patch_values());  // [n_patches, C p p]
  vision::ImageToPatches(image.data(), c.in_channels, height, width, p, patches.data());
  GLMQ_ASSIGN_OR_RETURN(BackendFloats dev_patches, Upload(patches.data(), patches.size()));
  float* rows = b.x.data() + h;  // row 0 is CLS
  GLMQ_RETURN_IF_ERROR(
      MatMul(w.patch_embed, dev_patches.data(), n_patches, rows, w.patch_embed_bias));
  GLMQ_RETURN_IF_ERROR(Emit(trace, "patch_embed", rows, n_patches, h));
  GLMQ_RETURN_IF_ERROR(be_.CopyFromHost(w.cls.data(), h, b.x.data()));
  {
    const std::vector<float> table = DenseToF32(w.pos_embed);  // [n_positions, hidden]
    GLMQ_ASSIGN_OR_RETURN(BackendFloats pos, Upload(table.data(), n * h));
    k_->Add(b.x.data(), pos.data(), n * h);
    GLMQ_RETURN_IF_ERROR(be_.Sync());  // before `pos` is freed
  }
  GLMQ_RETURN_IF_ERROR(Emit(trace, "embed", b.x.data(), n, h));
  for (int i = 0; i < c.n_layers; ++i) {
    GLMQ_RETURN_IF_ERROR(EvaLayer(i, n, &b));
    GLMQ_RETURN_IF_ERROR(Emit(trace, absl::StrCat("layer", i), b.x.data(), n, h));
  }
  // Drop CLS; merge x merge stride-merge conv over the side x side grid.
  const int64_t out_side = side / c.merge_size, n_out = out_side * out_side;
  const int64_t out_h = c.out_hidden_size;
  GLMQ_ASSIGN_OR_RETURN(BackendFloats tokens, BackendFloats::Allocate(&be_, n_out * out_h));
  GLMQ_RETURN_IF_ERROR(
      Downsample(b.x.data(), EvaWindowRows(side, c.merge_size), n_out, tokens.data()));
  GLMQ_RETURN_IF_ERROR(Emit(trace, "conv", tokens.data(), n_out, out_h));
  GLMQ_RETURN_IF_ERROR(Merger(tokens.data(), n_out));
  GLMQ_RETURN_IF_ERROR(Emit(trace, "glu", tokens.data(), n_out, out_h));
  std::vector<float> out((n_out + 2) * out_h);  // [boi, n_out tokens, eoi]
  GLMQ_RETURN_IF_ERROR(be_.CopyToHost(tokens.data(), n_out * out_h, out.data() + out_h));
  std::copy(w.boi.begin(), w.boi.end(), out.begin());
  std::copy(w.eoi.begin(), w.eoi.end(), out.end() - out_h);
  const float scale = static_cast<float>(c.scaling_factor);
  for (float& v : out) v /= scale;
  if (trace) trace("out", out.data(), n_out + 2, out_h);
  return out;
}

}  // namespace glmq
