#include "plan/images.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "image/preprocess.h"

namespace glmq::plan {

absl::StatusOr<ImageCost> PlanImage(const pb::HParams& hp, int64_t height, int64_t width) {
  if (!hp.has_vision())
    return absl::InvalidArgumentError("images: the model has no vision tower");
  const pb::VisionHParams& v = hp.vision();
  if (height < 0 || width < 0)
    return absl::InvalidArgumentError(absl::StrCat("--image-size ", width, "x", height));
  ImageCost c;
  const int64_t start_end =
      (v.image_start_token_id() > 0 ? 1 : 0) + (v.image_end_token_id() > 0 ? 1 : 0);
  if (hp.layout() != pb::LAYOUT_GLM4V) {  // fixed-size resize, whatever the input
    c.height = c.width = v.image_size();
    const int64_t side = v.image_size() / v.patch_size();
    c.patches = side * side;
    c.tokens = v.image_tokens() + start_end;
    return c;
  }
  if (height == 0) height = v.image_size();
  if (width == 0) width = v.image_size();
  const int64_t t = v.temporal_patch_size(), merge = v.spatial_merge_size();
  absl::StatusOr<image::ResizedSize> s =
      image::SmartResize(t, height, width, t, v.patch_size() * merge, v.preprocess().min_pixels(),
                  v.preprocess().max_pixels());
  if (!s.ok()) return Annotate(s.status(), absl::StrCat("--image-size ", width, "x", height));
  c.height = s->height;
  c.width = s->width;
  c.patches = (s->height / v.patch_size()) * (s->width / v.patch_size());
  c.tokens = c.patches / (merge * merge) + start_end;
  return c;
}

absl::Status ParseImageSize(const std::string& text, int64_t* width, int64_t* height) {
  const size_t x = text.find('x');
  int64_t w = 0, h = 0;
  if (x == std::string::npos || !absl::SimpleAtoi(text.substr(0, x), &w) ||
      !absl::SimpleAtoi(text.substr(x + 1), &h) || w <= 0 || h <= 0 || w > 100000 ||
      h > 100000) {
    return absl::InvalidArgumentError(
        absl::StrCat("--image-size '", text, "': want WxH, e.g. 1920x1080 (1..100000 each)"));
  }
  *width = w;
  *height = h;
  return absl::OkStatus();
}

}  // namespace glmq::plan
