// Images in a vision model's prompt: decode and preprocess (image/), encode
// with the model's tower (vision_tower.h), splice into the ids
// (splice.h). What `glmq logits --image` and `glmq generate --image` use.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/model.h"
#include "runtime/session.h"
#include "runtime/tokenizer/tokenizer.h"
#include "runtime/vision/npy_f32.h"
#include "runtime/vision/splice.h"
#include "runtime/vision/vision_tower.h"

namespace glmq {

// Not thread-safe; uses the model's backend, so not while one of its
// sessions runs. `model` must outlive it.
class ImageEncoder {
 public:
  // The tower stored with the model's weights. Error for a text-only model
  // (naming it) or a tower whose tensors do not fit.
  static absl::StatusOr<std::unique_ptr<ImageEncoder>> Create(const Model& model);

  // A PNG or JPEG file, preprocessed as the model's Hugging Face processor
  // does (hparams.vision.preprocess).
  absl::StatusOr<ImageEmbeds> EncodeFile(const std::string& path);
  // Preprocessed pixels: glm-4v [1, 3, S, S] or [3, S, S]; GLM-4.1V
  // [grid_h * grid_w, C * T * p * p] patch rows in the processor's order
  // with the patch grid (grid_h, grid_w).
  absl::StatusOr<ImageEmbeds> EncodePixels(const NpyF32& pixels, int64_t grid_h = 0,
                                           int64_t grid_w = 0);

  const VisionTower& tower() const { return *tower_; }

 private:
  ImageEncoder(const pb::HParams& hp, std::unique_ptr<VisionTower> tower)
      : hp_(hp), tower_(std::move(tower)) {}
  absl::StatusOr<ImageEmbeds> Finish(std::vector<float> values, int64_t grid_h, int64_t grid_w);
  pb::HParams hp_;
  std::unique_ptr<VisionTower> tower_;
};

// The rows the text model sees for `ids` with `images` spliced in (a
// text-only model, or no images: the ids at positions 0..n-1).
absl::StatusOr<SplicedSequence> BuildSequence(const pb::HParams& hp, absl::Span<const int32_t> ids,
                                              const std::vector<ImageEmbeds>& images);

// `ids` with one image slot per image inserted where a chat template puts
// it: after the last "<|user|>\n" (else after the tokenizer's prefix).
// glm-4v: <|begin_of_image|> <|endoftext|> <|end_of_image|>; GLM-4.1V:
// <|begin_of_image|>, one <|image|> per merged token, <|end_of_image|>.
std::vector<int32_t> InsertImageSlots(const pb::HParams& hp, const Tokenizer& tok,
                                      absl::Span<const int32_t> ids,
                                      const std::vector<ImageEmbeds>& images);

// `ids` of a rendered conversation with image k's slot inserted after the
// user marker ("<|user|>", and its "\n" token if one follows) of user turn
// user_turns[k] (0-based, in the order the markers appear); images of one
// turn keep their order. Error: a turn the ids do not have.
absl::StatusOr<std::vector<int32_t>> InsertImageSlotsAtTurns(
    const pb::HParams& hp, const Tokenizer& tok, absl::Span<const int32_t> ids,
    const std::vector<ImageEmbeds>& images, const std::vector<int>& user_turns);

// The images of a chat conversation (glmq generate -i: one or more per user
// turn), each attached to a user turn, and the sequence a prompt with them
// runs as (for ChatSession::set_sequence_fn). `hp` and `tok` must outlive it.
class ChatImages {
 public:
  ChatImages(const pb::HParams& hp, const Tokenizer& tok) : hp_(hp), tok_(tok) {}
  void Add(ImageEmbeds image, int user_turn) {
    images_.push_back(std::move(image));
    turns_.push_back(user_turn);
  }
  void Clear() {
    images_.clear();
    turns_.clear();
  }
  bool empty() const { return images_.empty(); }
  // The rendered prompt ids with the slots inserted and the images spliced.
  absl::StatusOr<SplicedSequence> Sequence(const std::vector<int32_t>& ids) const;

 private:
  const pb::HParams& hp_;
  const Tokenizer& tok_;
  std::vector<ImageEmbeds> images_;
  std::vector<int> turns_;
};

// Runs `seq` on `session` from an empty cache: logits of every row
// [seq.size(), padded_vocab] (what == kAllLogits) or of the last one.
absl::StatusOr<std::vector<float>> RunSequence(Session* session, const SplicedSequence& seq,
                                               ForwardOutput what);

}  // namespace glmq
