#include "plan/memory.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "runtime/buffers.h"
#include "schema/encodings.h"
#include "schema/hparams.h"
#include "schema/tensors.h"

namespace glmq::plan {
namespace {

constexpr uint64_t kF32 = 4;

absl::StatusOr<std::vector<NamedBuffer>> LanguageBuffers(const pb::HParams& hp,
                                                         const PlanOptions& o, int64_t context) {
  BufferConfig cfg;
  cfg.max_context = context;
  cfg.prefill_chunk = o.prefill_chunk;
  cfg.batch = o.batch;
  cfg.kv_type = KvType::kBF16;
  cfg.n_threads = o.n_threads;
  cfg.all_logits = o.all_logits;
  GLMQ_ASSIGN_OR_RETURN(BufferSizes sizes, ComputeBufferSizes(hp, cfg));
  std::vector<NamedBuffer> out;
  for (const glmq::NamedBuffer& b : sizes.buffers)
    if (b.name != "kv_cache") out.push_back({b.name, b.shape + " f32", b.bytes});
  return out;
}

// Vision encoder, one image at a time, f32 activations; attention uses the
// same key tiling as kAttnKeyTile. The image embeddings of all images stay
// alive until the prefill consumed them.
void AddVisionBuffers(const pb::HParams& hp, const PlanOptions& o, const ImageCost& image,
                      std::vector<NamedBuffer>* out) {
  const pb::VisionHParams& v = hp.vision();
  const uint64_t patches = image.patches;
  const uint64_t h = v.hidden_size();
  const uint64_t mlp = hp.layout() == pb::LAYOUT_GLM4V ? v.out_hidden_size() : v.ffn_hidden_size();
  const uint64_t glu = hp.layout() == pb::LAYOUT_GLM4V ? 2 : 1;
  const uint64_t tile = std::min<uint64_t>(patches, kAttnKeyTile);
  out->push_back({"vit_residual", "[patches, vision.hidden] f32", patches * h * kF32});
  out->push_back({"vit_normed", "[patches, vision.hidden] f32", patches * h * kF32});
  out->push_back({"vit_qkv", "[patches, 3*vision.hidden] f32", patches * 3 * h * kF32});
  out->push_back({"vit_attn_out", "[patches, vision.hidden] f32", patches * h * kF32});
  out->push_back({"vit_scores", "[vision.n_heads, patches, 256] f32",
                  static_cast<uint64_t>(v.n_heads()) * patches * tile * kF32});
  out->push_back({"vit_mlp", "[patches, (1|2)*vision.mlp] f32", patches * glu * mlp * kF32});
  out->push_back({"image_embeddings", "[batch*images*image_tokens, hidden] f32",
                  static_cast<uint64_t>(o.batch * o.images * image.tokens) *
                      hp.hidden_size() * kF32});
}

}  // namespace

absl::string_view BuffersSource() { return "runtime/buffers.h (ComputeBufferSizes)"; }

const std::vector<KvTypeInfo>& AllKvTypes() {
  static const std::vector<KvTypeInfo> table = {{KvType::kBF16, Traits(KvType::kBF16).name},
                                                {KvType::kInt8, Traits(KvType::kInt8).name}};
  return table;
}

uint64_t KvBytesPerToken(const pb::HParams& hp, KvType type) {
  absl::StatusOr<KvLayout> l = MakeKvLayout(hp, type);
  return l.ok() ? l->BytesPerToken() : 0;
}

absl::Status ValidateOptions(const pb::HParams& hp, const PlanOptions& o) {
  if (o.batch <= 0 || o.batch > 4096)
    return absl::InvalidArgumentError(absl::StrCat("--batch is ", o.batch, " (1..4096)"));
  if (o.prefill_chunk <= 0 || o.prefill_chunk > (int64_t{1} << 20))
    return absl::InvalidArgumentError(
        absl::StrCat("--prefill-chunk is ", o.prefill_chunk, " (1..1048576)"));
  if (o.images < 0) return absl::InvalidArgumentError(absl::StrCat("--images is ", o.images));
  if (o.images > 0 && !hp.has_vision())
    return absl::InvalidArgumentError(
        absl::StrCat("--images ", o.images, ": model has no vision tower (layout ",
                     static_cast<int>(hp.layout()), ")"));
  if (o.images > 0) {
    GLMQ_ASSIGN_OR_RETURN(ImageCost c, PlanImage(hp, o.image_height, o.image_width));
    // By division: --images near 2^63 overflowed the product.
    if (c.tokens > 0 && o.images > hp.max_context() / c.tokens)
      return absl::InvalidArgumentError(absl::StrCat("--images ", o.images, " of ", c.tokens,
                                                     " tokens each need more than max_context ",
                                                     hp.max_context(), " tokens"));
  }
  if (o.n_threads <= 0) return absl::InvalidArgumentError("n_threads must be positive");
  for (int64_t c : o.contexts)
    if (c <= 0 || c > hp.max_context())
      return absl::InvalidArgumentError(
          absl::StrCat("--context ", c, " is outside 1..", hp.max_context(), " (max_context)"));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<NamedBuffer>> WorkingBuffers(const pb::HParams& hp,
                                                        const PlanOptions& o, int64_t context) {
  GLMQ_RETURN_IF_ERROR(ValidateHParams(hp));
  GLMQ_RETURN_IF_ERROR(ValidateOptions(hp, o));
  GLMQ_ASSIGN_OR_RETURN(std::vector<NamedBuffer> out, LanguageBuffers(hp, o, context));
  if (o.images > 0) {
    GLMQ_ASSIGN_OR_RETURN(ImageCost c, PlanImage(hp, o.image_height, o.image_width));
    AddVisionBuffers(hp, o, c, &out);
  }
  return out;
}

uint64_t SumBytes(const std::vector<NamedBuffer>& buffers) {
  uint64_t sum = 0;
  for (const NamedBuffer& b : buffers) sum += b.bytes;
  return sum;
}

std::vector<int64_t> ContextRows(int64_t max_context, int64_t min_context) {
  std::vector<int64_t> rows;
  int64_t c = 1024;
  for (; c <= max_context; c *= 2)
    if (c >= min_context) rows.push_back(c);
  if (rows.empty() || rows.back() != max_context) rows.push_back(max_context);
  return rows;
}

absl::StatusOr<Plan> MakePlan(const pb::HParams& hp, const PlanOptions& options,
                              const SchemeWeights* file_weights) {
  GLMQ_RETURN_IF_ERROR(ValidateHParams(hp));
  GLMQ_RETURN_IF_ERROR(ValidateOptions(hp, options));
  Plan plan;
  plan.hp = hp;
  plan.options = options;
  GLMQ_ASSIGN_OR_RETURN(plan.tp, MakeTpLayout(hp, options.tp));
  plan.gpu_hp = PerGpuHParams(hp, plan.tp);
  GLMQ_ASSIGN_OR_RETURN(std::vector<ModelTensor> tensors, ModelTensors(hp));
  GLMQ_ASSIGN_OR_RETURN(WeightBytes unsharded, SchemeWeightBytes("bf16", tensors, hp.n_layers()));
  tensors = ShardTensors(tensors, hp, plan.tp);
  for (const std::string& s : PlannedSchemes()) {
    GLMQ_ASSIGN_OR_RETURN(WeightBytes w, SchemeWeightBytes(s, tensors, hp.n_layers()));
    plan.weights.push_back({s, w});
  }
  if (file_weights != nullptr) plan.weights.push_back(*file_weights);
  for (const ModelTensor& t : tensors) {  // the group size each scheme gives ffn_down
    if (t.role != pb::ROLE_FFN_DOWN || t.layer != 0 || plan.tp.tp == 1) continue;
    for (const std::string& s : PlannedSchemes()) {
      absl::StatusOr<pb::QuantRule> r = ChooseEncoding(s, t, hp.n_layers());
      if (!r.ok()) continue;
      for (const std::string& p : GroupAlignmentProblems(hp, plan.tp, r->group_size())) {
        plan.tp_problems.push_back(absl::StrCat(s, ": ", p));
      }
    }
  }
  plan.checkpoint_bf16_bytes = unsharded.total();  // the whole checkpoint
  for (const HfTensorName& s : SourceOnlyHfTensors(hp)) {
    GLMQ_ASSIGN_OR_RETURN(uint64_t n, EncodedBytes(pb::ENCODING_BF16, 0, s.shape));
    plan.checkpoint_bf16_bytes += n;
  }
  for (const KvTypeInfo& k : AllKvTypes()) {
    GLMQ_ASSIGN_OR_RETURN(KvLayout layout, MakeKvLayout(plan.gpu_hp, k.type));
    plan.kv_layouts.push_back(layout);
    plan.kv_per_token.push_back(layout.BytesPerToken());
  }
  if (options.images > 0) {
    GLMQ_ASSIGN_OR_RETURN(plan.image, PlanImage(hp, options.image_height, options.image_width));
    plan.image_tokens = options.images * plan.image.tokens;
  }
  plan.contexts = options.contexts.empty()
                      ? ContextRows(hp.max_context(), std::max<int64_t>(plan.image_tokens, 1))
                      : options.contexts;
  GLMQ_ASSIGN_OR_RETURN(plan.buffers, WorkingBuffers(plan.gpu_hp, options, plan.contexts.back()));
  return plan;
}

uint64_t KvBytes(const Plan& plan, size_t kv_index, int64_t context) {
  return plan.kv_layouts[kv_index].BytesFor(context) * static_cast<uint64_t>(plan.options.batch);
}

uint64_t BuffersBytes(const Plan& plan, int64_t context) {
  // MakePlan validated hparams and options, so this cannot fail for context >= 1.
  absl::StatusOr<std::vector<NamedBuffer>> b = WorkingBuffers(plan.gpu_hp, plan.options, context);
  return b.ok() ? SumBytes(*b) : 0;
}

uint64_t TotalBytes(const Plan& plan, size_t weights_index, size_t kv_index, int64_t context) {
  return plan.weights[weights_index].bytes.total() + KvBytes(plan, kv_index, context) +
         BuffersBytes(plan, context) + plan.cuda_context_bytes;
}

int64_t MaxContextThatFits(const Plan& plan, size_t weights_index, size_t kv_index,
                           uint64_t gpu_bytes) {
  int64_t lo = std::max<int64_t>(plan.image_tokens, 1);
  int64_t hi = plan.hp.max_context();
  if (TotalBytes(plan, weights_index, kv_index, lo) > gpu_bytes) return -1;
  while (lo < hi) {  // invariant: lo fits; total is nondecreasing in context
    const int64_t mid = lo + (hi - lo + 1) / 2;
    if (TotalBytes(plan, weights_index, kv_index, mid) <= gpu_bytes) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return lo;
}

absl::StatusOr<uint64_t> ParseByteSize(absl::string_view text) {
  std::string s = absl::AsciiStrToLower(absl::StripAsciiWhitespace(text));
  size_t i = 0;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
  double value = 0;
  if (i == 0 || !absl::SimpleAtod(s.substr(0, i), &value))
    return absl::InvalidArgumentError(absl::StrCat("size '", text, "': expected e.g. 24G, 80GiB"));
  const std::string unit(absl::StripAsciiWhitespace(s.substr(i)));
  struct Unit { const char* name; double factor; };
  static const Unit kUnits[] = {
      {"", 1},          {"b", 1},           {"k", 1024.0},    {"kib", 1024.0},
      {"m", 1 << 20},   {"mib", 1 << 20},   {"g", 1 << 30},   {"gib", 1 << 30},
      {"t", 1024.0 * (1 << 30)}, {"tib", 1024.0 * (1 << 30)}, {"kb", 1e3}, {"mb", 1e6},
      {"gb", 1e9},      {"tb", 1e12}};
  for (const Unit& u : kUnits) {
    if (unit != u.name) continue;
    const double bytes = std::floor(value * u.factor);
    if (bytes <= 0 || bytes > 1e18)
      return absl::InvalidArgumentError(absl::StrCat("size '", text, "' is out of range"));
    return static_cast<uint64_t>(bytes);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("size '", text, "': unknown unit '", unit, "' (use G, GiB, GB, M, MiB)"));
}

}  // namespace glmq::plan
