// glmq logits MODEL --ids IDS.npy [--image FILE | --pixels PIXELS.npy]
// [--last N] -o OUT.npy: float32 logits [rows, padded_vocab] of every row the
// model sees (after image splicing), for parity checks. Text-only sequences
// stream chunk by chunk (runtime/sequence_logits.h), so long contexts need
// only the KV cache and one chunk's logits.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/status.h"
#include "runtime/loaded_model.h"
#include "runtime/npy.h"
#include "runtime/sequence_logits.h"
#include "runtime/vision/multimodal.h"
#include "tools/command.h"
#include "tools/session_flags.h"

namespace glmq::tools {
namespace {

struct LogitsArgs {
  std::string model, ids, output, pixels, grid;
  std::vector<std::string> images;
  int64_t last = 0;
  int threads = 0;
  SessionFlags session;
};

absl::StatusOr<std::vector<ImageEmbeds>> Images(const LogitsArgs& a, const Model& model) {
  std::vector<ImageEmbeds> out;
  if (a.images.empty() && a.pixels.empty()) return out;
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<ImageEncoder> enc, ImageEncoder::Create(model));
  for (const std::string& path : a.images) {
    GLMQ_ASSIGN_OR_RETURN(ImageEmbeds e, enc->EncodeFile(path));
    out.push_back(std::move(e));
  }
  if (!a.pixels.empty()) {
    int64_t h = 0, w = 0;
    std::vector<std::string> hw = absl::StrSplit(a.grid, 'x');
    if (!a.grid.empty() &&
        (hw.size() != 2 || !absl::SimpleAtoi(hw[0], &h) || !absl::SimpleAtoi(hw[1], &w)))
      return absl::InvalidArgumentError("--grid wants HxW (patches), e.g. 6x8");
    GLMQ_ASSIGN_OR_RETURN(NpyF32 px, ReadNpyF32(a.pixels));
    GLMQ_ASSIGN_OR_RETURN(ImageEmbeds e, enc->EncodePixels(px, h, w));
    out.push_back(std::move(e));
  }
  return out;
}

absl::Status RunLogits(const LogitsArgs& a) {
  if (a.last < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--last ", a.last, " must be >= 0 (0: every row)"));
  }
  GLMQ_ASSIGN_OR_RETURN(std::vector<int32_t> ids, ReadNpyInt32(a.ids));
  if (ids.empty()) return absl::InvalidArgumentError(a.ids + ": no token ids");
  GLMQ_ASSIGN_OR_RETURN(const DeviceSpec device, ParseDevice(a.session.device));
  GLMQ_ASSIGN_OR_RETURN(LoadedModel lm, LoadGlmqModel(a.model, a.threads, "", device));
  const pb::HParams& hp = lm.model->hparams();
  GLMQ_ASSIGN_OR_RETURN(std::vector<ImageEmbeds> images, Images(a, *lm.model));
  if (images.empty()) {
    GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<Session> s,
                          NewSession(*lm.model, a.session, static_cast<int64_t>(ids.size()),
                                     "the sequence length"));
    return WriteSequenceLogits(*s, ids, a.last, a.output);
  }
  GLMQ_ASSIGN_OR_RETURN(SplicedSequence seq, BuildSequence(hp, ids, images));
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<Session> session,
                        NewSession(*lm.model, a.session, std::max<int64_t>(seq.size(), 1),
                                   "the sequence length"));
  GLMQ_ASSIGN_OR_RETURN(std::vector<float> logits,
                        RunSequence(session.get(), seq, ForwardOutput::kAllLogits));
  const int64_t vocab = hp.padded_vocab_size(), rows = seq.size();
  const int64_t keep = a.last > 0 ? std::min(a.last, rows) : rows;
  GLMQ_RETURN_IF_ERROR(WriteNpyF32(a.output, {keep, vocab}, logits.data() + (rows - keep) * vocab));
  std::printf("%lld ids -> %lld rows (%zu image(s)); wrote [%lld, %lld] to %s\n",
              static_cast<long long>(ids.size()), static_cast<long long>(rows), images.size(),
              static_cast<long long>(keep), static_cast<long long>(vocab), a.output.c_str());
  return absl::OkStatus();
}

RunFn Setup(CLI::App* sub) {
  auto a = std::make_shared<LogitsArgs>();
  sub->add_option("model", a->model, ".glmq model")->required();
  sub->add_option("--ids", a->ids, "input ids (.npy, int32, 1-D), run as one sequence")
      ->required();
  CLI::Option* image =
      sub->add_option("--image", a->images, "PNG or JPEG for the prompt's image slot (repeatable)");
  sub->add_option("--pixels", a->pixels, "preprocessed pixels (.npy float32) instead of --image")
      ->excludes(image);
  sub->add_option("--grid", a->grid, "GLM-4.1V --pixels: the patch grid HxW (e.g. 6x8)");
  sub->add_option("--last", a->last, "keep only the last N rows (default: every row)");
  sub->add_option("-o,--output", a->output, "output .npy (float32 [rows, padded_vocab])")
      ->required();
  sub->add_option("-t,--threads", a->threads, "threads (default: all)");
  AddSessionFlags(sub, &a->session);
  return [a] { return RunLogits(*a); };
}

}  // namespace

GLMQ_COMMAND(logits, "logits", "write the logits of every position (images spliced) as .npy",
             Setup);

}  // namespace glmq::tools
