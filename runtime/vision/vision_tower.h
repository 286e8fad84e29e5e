// The forward passes of the GLM-4 vision towers: a preprocessed pixel tensor
// in, the embeddings handed to the text model out. One description of each
// tower runs on the model's backend: activations live in its memory
// (Backend::AllocateFloats, host for the CPU, device for CUDA); linear
// layers and the patch / merge convolutions (as matrices over their
// receptive fields) go through Backend::MatMul, so bf16 and quantized weights
// both work; norms, GELU, RoPE and attention are f32 VisionKernels
// (vision_kernels.h: vision_ops.h and attention.h on the CPU,
// runtime/cuda/cuda_vision.cc on a GPU). Inputs and outputs are host
// vectors. Semantics and op order: ../shared/fixtures/README.md, "Vision
// models".
//
// glm-4v-9b (EVA2-CLIP, LAYOUT_CHATGLM_VISION): Conv2d patches, CLS + all
// position rows, post-norm blocks, CLS dropped, 2x2 conv, GLU projector,
// cat(boi, tokens, eoi) / scaling_factor.
// GLM-4.1V (LAYOUT_GLM4V): Conv3d patches, RMSNorm, + bicubically resampled
// position table, pre-norm blocks with 2-D RoPE, RMSNorm, 2x2 conv, merger.
//
// Not thread-safe (one encode at a time per object; each parallelizes
// internally with the backend's thread count, or on the device).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "runtime/backend.h"
#include "runtime/backend_buffer.h"
#include "runtime/vision/attention.h"
#include "runtime/vision/vision_config.h"
#include "runtime/vision/vision_kernels.h"
#include "runtime/vision/vision_weights.h"
#include "runtime/weights.h"

namespace glmq {

// Called after each stage with its output ([rows, cols] f32, valid during
// the call). Stage names follow the fixtures' vision_trace.npz: EVA2-CLIP
// "patch_embed", "embed", "layer<i>", "conv", "glu", "out"; GLM-4.1V
// "patch_embed", "post_conv_layernorm", "pos_embed_interpolated", "embed",
// "block<i>", "post_layernorm", "downsample", "out".
using VisionTraceFn =
    std::function<void(absl::string_view stage, const float* data, int64_t rows, int64_t cols)>;

// A GLM-4.1V image or video in patches: t frames (of temporal_patch_size
// input frames each) of h x w patches.
struct PatchGrid {
  int64_t t = 1;
  int64_t h = 0;
  int64_t w = 0;
};

class VisionTower {
 public:
  // Loads and checks the weights of config's tower. `source` and `backend`
  // must outlive the tower.
  static absl::StatusOr<std::unique_ptr<VisionTower>> Load(const WeightSource& source,
                                                           const VisionConfig& config,
                                                           Backend* backend);

  const VisionConfig& config() const { return config_; }
  const VisionWeights& weights() const { return weights_; }

  // glm-4v-9b. image: [C, H, W] normalized pixels with H = W = image_size (the
  // position table is not interpolated). Returns [(H / 2p) * (W / 2p) + 2,
  // out_hidden]: boi, the merged tokens row-major, eoi, all / scaling_factor.
  absl::StatusOr<std::vector<float>> EncodeImage(absl::Span<const float> image, int64_t height,
                                                 int64_t width,
                                                 const VisionTraceFn& trace = nullptr);

  // GLM-4.1V. patches: [t * h * w, C * T * p * p] rows, each (C, T, p, p)
  // flattened, ordered frame by frame, then by merge window (row-major), then
  // the window's patches row-major (the processor's order). Attention runs
  // within each frame. Returns [t * h * w / merge^2, out_hidden].
  absl::StatusOr<std::vector<float>> EncodePatches(absl::Span<const float> patches,
                                                   const PatchGrid& grid,
                                                   const VisionTraceFn& trace = nullptr);

 private:
  VisionTower(const VisionConfig& c, VisionWeights w, Backend* backend,
              std::unique_ptr<VisionKernels> kernels)
      : config_(c), weights_(std::move(w)), be_(*backend), k_(std::move(kernels)) {}
  // Working buffers of one encode in the backend's memory, sized for n rows.
  struct Buffers {
    BackendFloats x, normed, qkv, attn, proj, gate, up;
  };
  absl::StatusOr<Buffers> Allocate(int64_t n);
  // A backend buffer holding n host floats.
  absl::StatusOr<BackendFloats> Upload(const float* host, int64_t n);
  // y = x W^T (+ bias); x, y: backend memory.
  absl::Status MatMul(const WeightView& w, const float* x, int64_t n, float* y,
                      const std::vector<float>& bias = {});
  // Calls trace (if any) with rows x cols floats of backend memory.
  absl::Status Emit(const VisionTraceFn& trace, absl::string_view stage, const float* data,
                    int64_t rows, int64_t cols);
  absl::Status EvaLayer(int layer, int64_t n, Buffers* b);
  // rope: [n, head_dim] backend memory (vision::Rope2dTable of the patches).
  absl::Status Glm41vBlock(int layer, const PatchGrid& grid, const float* rope, Buffers* b);
  // The 2x2 conv over x's rows (src_rows: [n_out * merge^2], see
  // vision::GatherWindows) into out [n_out, out_hidden].
  absl::Status Downsample(const float* x, const std::vector<int64_t>& src_rows, int64_t n_out,
                          float* out);
  // proj -> LayerNorm -> GELU -> down(silu(gate) * up), in place on x
  // [n, out_hidden].
  absl::Status Merger(float* x, int64_t n);
  // The backend buffer's n floats as a host vector.
  absl::StatusOr<std::vector<float>> ToHost(const float* data, int64_t n);

  VisionConfig config_;
  VisionWeights weights_;
  Backend& be_;
  std::unique_ptr<VisionKernels> k_;
};

}  // namespace glmq
