#include "runtime/vision/splice.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "schema/hparams.h"

namespace glmq {
namespace {

// Appends a text row at `pos` on all three streams.
void AddText(SplicedSequence* s, int32_t id, int64_t pos, std::vector<int64_t> pos3[3]) {
  s->ids.push_back(id);
  s->image_row.push_back(-1);
  for (int k = 0; k < 3; ++k) pos3[k].push_back(pos);
}

// Appends `image`'s rows as rows of the sequence (placeholder id `id`).
void AddImageRows(SplicedSequence* s, const ImageEmbeds& image, int64_t first, int64_t count,
                  int64_t hidden, int32_t id) {
  const int64_t base = static_cast<int64_t>(s->embeds.size()) / hidden;
  s->embeds.insert(s->embeds.end(), image.values.begin() + first * hidden,
                   image.values.begin() + (first + count) * hidden);
  for (int64_t r = 0; r < count; ++r) {
    s->ids.push_back(id);
    s->image_row.push_back(base + r);
  }
}

absl::Status SpliceGlm4v(const pb::HParams& hp, absl::Span<const int32_t> ids,
                         const std::vector<ImageEmbeds>& images, SplicedSequence* s,
                         std::vector<int64_t> pos3[3]) {
  const pb::VisionHParams& v = hp.vision();
  const int64_t n = static_cast<int64_t>(ids.size()), hidden = hp.hidden_size();
  size_t next = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (ids[i] != v.image_start_token_id()) {
      AddText(s, ids[i], i, pos3);
      continue;
    }
    if (i + 2 >= n || ids[i + 2] != v.image_end_token_id()) {
      return absl::InvalidArgumentError(
          absl::StrCat("image slot at token ", i,
                       ": <|begin_of_image|> must be followed by one placeholder "
                       "and <|end_of_image|> (id ",
                       v.image_end_token_id(), ")"));
    }
    if (next == images.size()) break;  // counted below
    const ImageEmbeds& im = images[next++];
    // boi vector at i, the image tokens at i + 1, the eoi vector at i + 2.
    AddImageRows(s, im, 0, 1, hidden, ids[i]);
    pos3[0].push_back(i);
    AddImageRows(s, im, 1, im.rows - 2, hidden, ids[i + 1]);
    pos3[0].insert(pos3[0].end(), im.rows - 2, i + 1);
    AddImageRows(s, im, im.rows - 1, 1, hidden, ids[i + 2]);
    pos3[0].push_back(i + 2);
    for (int k = 1; k < 3; ++k) pos3[k] = pos3[0];
    i += 2;
  }
  s->rope_offset = n - static_cast<int64_t>(s->ids.size());
  return absl::OkStatus();
}

absl::Status SpliceGlm41v(const pb::HParams& hp, absl::Span<const int32_t> ids,
                          const std::vector<ImageEmbeds>& images, SplicedSequence* s,
                          std::vector<int64_t> pos3[3]) {
  const int32_t image_id = static_cast<int32_t>(hp.vision().image_token_id());
  const int64_t n = static_cast<int64_t>(ids.size()), hidden = hp.hidden_size();
  int64_t next_pos = 0;  // previous maximum + 1
  size_t next = 0;
  for (int64_t i = 0; i < n;) {
    if (ids[i] != image_id) {
      AddText(s, ids[i], next_pos++, pos3);
      ++i;
      continue;
    }
    int64_t run = 0;
    while (i + run < n && ids[i + run] == image_id) ++run;
    if (next == images.size()) return absl::OkStatus();  // counted by the caller
    const ImageEmbeds& im = images[next++];
    if (run != im.rows) {
      return absl::InvalidArgumentError(absl::StrCat("image ", next, " has ", im.rows,
                                                     " tokens but its slot at token ", i, " holds ",
                                                     run, " <|image|> tokens"));
    }
    AddImageRows(s, im, 0, im.rows, hidden, image_id);
    for (int64_t r = 0; r < im.rows; ++r) {
      pos3[0].push_back(next_pos);
      pos3[1].push_back(next_pos + r / im.grid_w);
      pos3[2].push_back(next_pos + r % im.grid_w);
    }
    next_pos += std::max(im.grid_h, im.grid_w);
    i += run;
  }
  // rope_delta: max position + 1 - prompt length (positions run to next_pos - 1).
  s->rope_offset = next_pos - static_cast<int64_t>(s->ids.size());
  return absl::OkStatus();
}

}  // namespace

int64_t CountImageSlots(const pb::HParams& hp, absl::Span<const int32_t> ids) {
  if (!IsVisionLayout(hp.layout())) return 0;
  const bool v41 = hp.layout() == pb::LAYOUT_GLM4V;
  const int64_t marker = v41 ? hp.vision().image_token_id() : hp.vision().image_start_token_id();
  int64_t slots = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] == marker && (!v41 || i == 0 || ids[i - 1] != marker)) ++slots;
  }
  return slots;
}

absl::StatusOr<SplicedSequence> SpliceImages(const pb::HParams& hp, absl::Span<const int32_t> ids,
                                             const std::vector<ImageEmbeds>& images) {
  if (!IsVisionLayout(hp.layout()) && !images.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("the model (layout ", LayoutName(hp.layout()),
                                                   ") has no vision tower: it takes no images"));
  }
  const int64_t slots = CountImageSlots(hp, ids);
  if (slots != static_cast<int64_t>(images.size())) {
    return absl::InvalidArgumentError(absl::StrCat(
        images.size(), " image(s) given but the prompt has ", slots, " image slot(s)"));
  }
  const bool v41 = hp.layout() == pb::LAYOUT_GLM4V;
  for (size_t k = 0; k < images.size(); ++k) {
    const ImageEmbeds& im = images[k];
    const bool grid_ok =
        !v41 || (im.grid_h > 0 && im.grid_w > 0 && im.grid_h * im.grid_w == im.rows);
    if (im.rows < (v41 ? 1 : 3) || !grid_ok ||
        static_cast<int64_t>(im.values.size()) != im.rows * hp.hidden_size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "image ", k + 1, ": ", im.values.size(), " values for ", im.rows, " rows (grid ",
          im.grid_h, "x", im.grid_w, ") do not fit the text width ", hp.hidden_size()));
    }
  }
  SplicedSequence s;
  std::vector<int64_t> pos3[3];
  if (v41) {
    GLMQ_RETURN_IF_ERROR(SpliceGlm41v(hp, ids, images, &s, pos3));
  } else {
    GLMQ_RETURN_IF_ERROR(SpliceGlm4v(hp, ids, images, &s, pos3));
  }
  for (int k = 0; k < 3; ++k) s.positions.insert(s.positions.end(), pos3[k].begin(), pos3[k].end());
  return s;
}

}  // namespace glmq
