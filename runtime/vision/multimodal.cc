#include "runtime/vision/multimodal.h"

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "image/image.h"
#include "image/preprocess.h"
#include "schema/hparams.h"

namespace glmq {
namespace {

template <class Config>
void SetStatistics(const pb::ImagePreprocess& p, Config* c) {
  for (int i = 0; i < 3 && i < p.image_mean_size(); ++i) c->mean[i] = p.image_mean(i);
  for (int i = 0; i < 3 && i < p.image_std_size(); ++i) c->std[i] = p.image_std(i);
}

}  // namespace

absl::StatusOr<std::unique_ptr<ImageEncoder>> ImageEncoder::Create(const Model& model) {
  const pb::HParams& hp = model.hparams();
  if (!IsVisionLayout(hp.layout())) {
    return absl::InvalidArgumentError(absl::StrCat(model.source().Describe(), ": layout ",
                                                   LayoutName(hp.layout()),
                                                   " is a text-only model; it takes no images"));
  }
  GLMQ_ASSIGN_OR_RETURN(VisionConfig config, VisionConfigFromHParams(hp));
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<VisionTower> tower,
                        VisionTower::Load(model.source(), config, &model.backend()));
  return std::unique_ptr<ImageEncoder>(new ImageEncoder(hp, std::move(tower)));
}

absl::StatusOr<ImageEmbeds> ImageEncoder::Finish(std::vector<float> values, int64_t grid_h,
                                                 int64_t grid_w) {
  ImageEmbeds e;
  e.rows = static_cast<int64_t>(values.size()) / hp_.hidden_size();
  e.values = std::move(values);
  const int64_t m = hp_.vision().spatial_merge_size();
  e.grid_h = grid_h / m;
  e.grid_w = grid_w / m;
  return e;
}

absl::StatusOr<ImageEmbeds> ImageEncoder::EncodeFile(const std::string& path) {
  GLMQ_ASSIGN_OR_RETURN(image::RgbImage rgb, image::ReadImageFile(path));
  const pb::VisionHParams& v = hp_.vision();
  const pb::ImagePreprocess& p = v.preprocess();
  if (hp_.layout() == pb::LAYOUT_CHATGLM_VISION) {
    image::Glm4vImageConfig c;
    c.image_size = static_cast<int>(p.resize_size());
    c.patch_size = static_cast<int>(v.patch_size());
    SetStatistics(p, &c);
    GLMQ_ASSIGN_OR_RETURN(image::Glm4vPixels px, image::PreprocessGlm4v(rgb, c));
    GLMQ_ASSIGN_OR_RETURN(std::vector<float> out, tower_->EncodeImage(px.values, px.size, px.size));
    return Finish(std::move(out), 0, 0);
  }
  image::Glm41vImageConfig c;
  c.patch_size = static_cast<int>(v.patch_size());
  c.merge_size = static_cast<int>(v.spatial_merge_size());
  c.temporal_patch_size = static_cast<int>(v.temporal_patch_size());
  c.min_pixels = p.min_pixels();
  c.max_pixels = p.max_pixels();
  c.rescale_factor = p.rescale_factor();
  SetStatistics(p, &c);
  GLMQ_ASSIGN_OR_RETURN(image::Glm41vPixels px, image::PreprocessGlm41v(rgb, c));
  GLMQ_ASSIGN_OR_RETURN(
      std::vector<float> out,
      tower_->EncodePatches(px.patches, PatchGrid{px.grid_t, px.grid_h, px.grid_w}));
  return Finish(std::move(out), px.grid_h, px.grid_w);
}

absl::StatusOr<ImageEmbeds> ImageEncoder::EncodePixels(const NpyF32& pixels, int64_t grid_h,
                                                       int64_t grid_w) {
  const std::vector<int64_t>& s = pixels.shape;
  if (hp_.layout() == pb::LAYOUT_CHATGLM_VISION) {
    if (s.size() < 3 || s.size() > 4 || (s.size() == 4 && s[0] != 1)) {
      return absl::InvalidArgumentError("pixels: glm-4v wants [1, 3, S, S] or [3, S, S]");
    }
    GLMQ_ASSIGN_OR_RETURN(std::vector<float> out,
                          tower_->EncodeImage(pixels.data, s[s.size() - 2], s.back()));
    return Finish(std::move(out), 0, 0);
  }
  if (s.size() != 2 || grid_h <= 0 || grid_w <= 0 || grid_h * grid_w != s[0]) {
    return absl::InvalidArgumentError(absl::StrCat(
        "pixels: GLM-4.1V wants [grid_h * grid_w, patch values] rows and the patch grid (--grid "
        "HxW); got ",
        s.size(), " dims for grid ", grid_h, "x", grid_w));
  }
  GLMQ_ASSIGN_OR_RETURN(std::vector<float> out,
                        tower_->EncodePatches(pixels.data, PatchGrid{1, grid_h, grid_w}));
  return Finish(std::move(out), grid_h, grid_w);
}

absl::StatusOr<SplicedSequence> BuildSequence(const pb::HParams& hp, absl::Span<const int32_t> ids,
                                              const std::vector<ImageEmbeds>& images) {
  if (IsVisionLayout(hp.layout()) || !images.empty()) return SpliceImages(hp, ids, images);
  SplicedSequence s;
  s.ids.assign(ids.begin(), ids.end());
  s.image_row.assign(ids.size(), -1);
  for (int k = 0; k < 3; ++k) {
    for (size_t t = 0; t < ids.size(); ++t) s.positions.push_back(static_cast<int64_t>(t));
  }
  return s;
}

absl::StatusOr<std::vector<float>> RunSequence(Session* session, const SplicedSequence& seq,
                                               ForwardOutput what) {
  session->Reset();
  std::vector<float> out;
  GLMQ_RETURN_IF_ERROR(session->ForwardSpliced(seq, what, &out));
  return out;
}

namespace {

// The ids of one image's slot: glm-4v boi <|endoftext|> eoi; GLM-4.1V boi,
// one <|image|> per merged token, eoi.
std::vector<int32_t> ImageSlot(const pb::HParams& hp, const Tokenizer& tok,
                               const ImageEmbeds& im) {
  const pb::VisionHParams& v = hp.vision();
  std::vector<int32_t> slot = {static_cast<int32_t>(v.image_start_token_id())};
  if (hp.layout() == pb::LAYOUT_GLM4V) {
    slot.insert(slot.end(), im.rows, static_cast<int32_t>(v.image_token_id()));
  } else {
    slot.push_back(tok.SpecialTokenId("<|endoftext|>")
                       .value_or(static_cast<int32_t>(std::max<int64_t>(hp.pad_token_id(), 0))));
  }
  slot.push_back(static_cast<int32_t>(v.image_end_token_id()));
  return slot;
}

// Where each user turn's content starts in ids: after "<|user|>" and the
// "\n" token that may follow it.
std::vector<size_t> UserTurnStarts(const Tokenizer& tok, absl::Span<const int32_t> ids) {
  std::vector<size_t> starts;
  const std::optional<int32_t> user = tok.SpecialTokenId("<|user|>");
  for (size_t i = 0; user && i < ids.size(); ++i) {
    if (ids[i] != *user) continue;
    size_t at = i + 1;
    if (at < ids.size() && tok.DecodeToken(ids[at]) == "\n") ++at;
    starts.push_back(at);
  }
  return starts;
}

}  // namespace

std::vector<int32_t> InsertImageSlots(const pb::HParams& hp, const Tokenizer& tok,
                                      absl::Span<const int32_t> ids,
                                      const std::vector<ImageEmbeds>& images) {
  std::vector<int32_t> slots;
  for (const ImageEmbeds& im : images) {
    const std::vector<int32_t> one = ImageSlot(hp, tok, im);
    slots.insert(slots.end(), one.begin(), one.end());
  }
  const std::vector<size_t> starts = UserTurnStarts(tok, ids);
  const size_t at =
      starts.empty() ? std::min(tok.prefix_ids().size(), ids.size()) : starts.back();
  std::vector<int32_t> out(ids.begin(), ids.begin() + at);
  out.insert(out.end(), slots.begin(), slots.end());
  out.insert(out.end(), ids.begin() + at, ids.end());
  return out;
}

absl::StatusOr<std::vector<int32_t>> InsertImageSlotsAtTurns(
    const pb::HParams& hp, const Tokenizer& tok, absl::Span<const int32_t> ids,
    const std::vector<ImageEmbeds>& images, const std::vector<int>& user_turns) {
  const std::vector<size_t> starts = UserTurnStarts(tok, ids);
  std::vector<std::vector<int32_t>> slots(starts.size());  // per user turn
  for (size_t k = 0; k < images.size() && k < user_turns.size(); ++k) {
    const int turn = user_turns[k];
    if (turn < 0 || turn >= static_cast<int>(starts.size())) {
      return absl::InvalidArgumentError(absl::StrCat("image ", k + 1, " belongs to user turn ",
                                                     turn + 1, " but the prompt has ",
                                                     starts.size(), " user turn(s)"));
    }
    const std::vector<int32_t> one = ImageSlot(hp, tok, images[k]);
    slots[turn].insert(slots[turn].end(), one.begin(), one.end());
  }
  std::vector<int32_t> out;
  size_t from = 0;
  for (size_t t = 0; t < starts.size(); ++t) {
    out.insert(out.end(), ids.begin() + from, ids.begin() + starts[t]);
    out.insert(out.end(), slots[t].begin(), slots[t].end());
    from = starts[t];
  }
  out.insert(out.end(), ids.begin() + from, ids.end());
  return out;
}

absl::StatusOr<SplicedSequence> ChatImages::Sequence(const std::vector<int32_t>& ids) const {
  GLMQ_ASSIGN_OR_RETURN(std::vector<int32_t> with,
                        InsertImageSlotsAtTurns(hp_, tok_, ids, images_, turns_));
  return BuildSequence(hp_, with, images_);
}

}  // namespace glmq
