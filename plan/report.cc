#include "plan/report.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/json.h"

namespace glmq::plan {
namespace {

std::string TotalColumn(const Plan& plan, size_t w, size_t k) {
  return absl::StrCat(plan.weights[w].name, "+kv", AllKvTypes()[k].name);
}

// Empty without TP; else how the model is split, the KV-head replication,
// and the shards vLLM's quantized kernels refuse.
std::string TpSummary(const Plan& plan) {
  const TpLayout& t = plan.tp;
  if (t.tp == 1) return "";
  std::string out = absl::StrCat(
      "\ntensor parallel over ", t.tp, " GPUs (vLLM-style), every figure below is per GPU: ",
      t.q_heads, " query heads, ", t.kv_heads, " KV head", t.kv_heads > 1 ? "s" : "", ", ffn ",
      t.ffn, ", ", t.vocab_rows, " vocabulary rows; norms replicated");
  if (t.kv_replicas > 1) {
    absl::StrAppend(&out, "\n  only ", plan.hp.n_kv_heads(), " KV heads for ", t.tp,
                    " GPUs: each KV head (its k/v weights and its KV cache) is replicated on ",
                    t.kv_replicas, " GPUs, so the KV cache per GPU is 1/", plan.hp.n_kv_heads(),
                    " of the model's, not 1/", t.tp);
  }
  for (const std::string& p : plan.tp_problems) {
    absl::StrAppend(&out, "\n  ", p, " (vLLM's AWQ/GPTQ kernels refuse this split)");
  }
  return out;
}

}  // namespace

std::string GiB(uint64_t bytes) {
  return absl::StrFormat("%.2f", static_cast<double>(bytes) / (1ull << 30));
}

std::string ContextLabel(int64_t tokens) {
  if (tokens >= (1 << 20) && tokens % (1 << 20) == 0) return absl::StrCat(tokens >> 20, "M");
  if (tokens % 1024 == 0) return absl::StrCat(tokens / 1024, "K");
  return absl::StrCat(tokens);
}

std::string RenderText(const Plan& plan, const std::string& title) {
  const pb::HParams& hp = plan.hp;
  std::string out = absl::StrCat("VRAM plan for ", title, "  (all sizes GiB = 2^30 bytes)\n");
  absl::StrAppend(&out, "layers ", hp.n_layers(), ", hidden ", hp.hidden_size(), ", heads ",
                  hp.n_heads(), "/", hp.n_kv_heads(), " kv x ", hp.head_dim(), ", max context ",
                  hp.max_context(), "; batch ", plan.options.batch, ", prefill chunk ",
                  plan.options.prefill_chunk);
  if (plan.image_tokens > 0)
    absl::StrAppend(&out, ", images ", plan.options.images, " of ", plan.image.width, "x",
                    plan.image.height, " px (", plan.image.patches, " patches, ",
                    plan.image_tokens, " tokens)");
  absl::StrAppend(&out, TpSummary(plan));
  absl::StrAppend(&out, "\nbf16 checkpoint (source, incl. unused tensors): ",
                  plan.checkpoint_bf16_bytes, " bytes\n");
  for (const SchemeWeights& w : plan.weights)
    absl::StrAppend(&out, absl::StrFormat("weights %-14s %8s GiB  (%d bytes", w.name,
                                          GiB(w.bytes.total()), w.bytes.total()),
                    w.bytes.vision ? absl::StrCat(", vision ", w.bytes.vision) : "", ")\n");
  for (size_t k = 0; k < AllKvTypes().size(); ++k)
    absl::StrAppend(&out, "KV ", AllKvTypes()[k].name, ": ", plan.kv_per_token[k],
                    " bytes/token/sequence, allocated in blocks of ",
                    plan.kv_layouts[k].block_tokens, " positions (",
                    plan.kv_layouts[k].BlockBytes(), " bytes)\n");
  absl::StrAppend(&out, "working buffers: ", BuffersSource(), "; CUDA context allowance ",
                  GiB(plan.cuda_context_bytes), " GiB\n\n");
  absl::StrAppend(&out, absl::StrFormat("%8s %9s %9s %8s %6s", "context", "kv-bf16", "kv-int8",
                                        "buffers", "cuda"));
  for (size_t w = 0; w < plan.weights.size(); ++w)
    for (size_t k = 0; k < AllKvTypes().size(); ++k)
      absl::StrAppend(&out, absl::StrFormat(" %18s", TotalColumn(plan, w, k)));
  absl::StrAppend(&out, "\n");
  for (int64_t c : plan.contexts) {
    absl::StrAppend(&out, absl::StrFormat("%8s %9s %9s %8s %6s", ContextLabel(c),
                                          GiB(KvBytes(plan, 0, c)), GiB(KvBytes(plan, 1, c)),
                                          GiB(BuffersBytes(plan, c)),
                                          GiB(plan.cuda_context_bytes)));
    for (size_t w = 0; w < plan.weights.size(); ++w)
      for (size_t k = 0; k < AllKvTypes().size(); ++k)
        absl::StrAppend(&out, absl::StrFormat(" %18s", GiB(TotalBytes(plan, w, k, c))));
    absl::StrAppend(&out, "\n");
  }
  return out;
}

std::string RenderCsv(const Plan& plan) {
  std::string out = "context";
  for (const KvTypeInfo& k : AllKvTypes()) absl::StrAppend(&out, ",kv_", k.name);
  absl::StrAppend(&out, ",buffers,cuda_context");
  for (const SchemeWeights& w : plan.weights) absl::StrAppend(&out, ",weights_", w.name);
  for (size_t w = 0; w < plan.weights.size(); ++w)
    for (const KvTypeInfo& k : AllKvTypes())
      absl::StrAppend(&out, ",total_", plan.weights[w].name, "_kv_", k.name);
  absl::StrAppend(&out, "\n");
  for (int64_t c : plan.contexts) {
    absl::StrAppend(&out, c);
    for (size_t k = 0; k < AllKvTypes().size(); ++k) absl::StrAppend(&out, ",", KvBytes(plan, k, c));
    absl::StrAppend(&out, ",", BuffersBytes(plan, c), ",", plan.cuda_context_bytes);
    for (const SchemeWeights& w : plan.weights) absl::StrAppend(&out, ",", w.bytes.total());
    for (size_t w = 0; w < plan.weights.size(); ++w)
      for (size_t k = 0; k < AllKvTypes().size(); ++k)
        absl::StrAppend(&out, ",", TotalBytes(plan, w, k, c));
    absl::StrAppend(&out, "\n");
  }
  return out;
}

std::string RenderJson(const Plan& plan, const std::string& title) {
  Json j;
  j["model"] = title;
  j["max_context"] = plan.hp.max_context();
  j["tp"] = {{"gpus", plan.tp.tp}, {"q_heads_per_gpu", plan.tp.q_heads},
             {"kv_heads_per_gpu", plan.tp.kv_heads}, {"kv_head_replicas", plan.tp.kv_replicas},
             {"ffn_per_gpu", plan.tp.ffn}, {"vocab_rows_per_gpu", plan.tp.vocab_rows},
             {"problems", plan.tp_problems}};
  j["batch"] = plan.options.batch;
  j["prefill_chunk"] = plan.options.prefill_chunk;
  j["images"] = plan.options.images;
  j["image_tokens"] = plan.image_tokens;
  j["image_patches"] = plan.image.patches;
  j["image_size"] = {plan.image.width, plan.image.height};
  j["checkpoint_bf16_bytes"] = plan.checkpoint_bf16_bytes;
  j["cuda_context_bytes"] = plan.cuda_context_bytes;
  j["buffers_source"] = std::string(BuffersSource());
  for (const SchemeWeights& w : plan.weights)
    j["weights"][w.name] = {{"bytes", w.bytes.total()},
                            {"language_bytes", w.bytes.language},
                            {"vision_bytes", w.bytes.vision}};
  for (size_t k = 0; k < AllKvTypes().size(); ++k) {
    j["kv_bytes_per_token"][std::string(AllKvTypes()[k].name)] = plan.kv_per_token[k];
    j["kv_block_bytes"][std::string(AllKvTypes()[k].name)] = plan.kv_layouts[k].BlockBytes();
  }
  j["kv_block_tokens"] = kKvBlockTokens;
  for (const NamedBuffer& b : plan.buffers)
    j["buffers_at_max_context"].push_back({{"name", b.name}, {"shape", b.shape}, {"bytes", b.bytes}});
  j["rows"] = Json::array();
  for (int64_t c : plan.contexts) {
    Json row{{"context", c}, {"buffers", BuffersBytes(plan, c)}};
    for (size_t k = 0; k < AllKvTypes().size(); ++k)
      row["kv"][std::string(AllKvTypes()[k].name)] = KvBytes(plan, k, c);
    for (size_t w = 0; w < plan.weights.size(); ++w)
      for (size_t k = 0; k < AllKvTypes().size(); ++k)
        row["total"][plan.weights[w].name][std::string(AllKvTypes()[k].name)] =
            TotalBytes(plan, w, k, c);
    j["rows"].push_back(row);
  }
  return j.dump(2) + "\n";
}

std::string RenderGpuFit(const Plan& plan, uint64_t gpu_bytes, const std::string& gpu_label) {
  std::string out = absl::StrCat("largest context that fits in ", gpu_label, " (", gpu_bytes,
                                 " bytes, ", GiB(gpu_bytes), " GiB)",
                                 plan.tp.tp > 1 ? absl::StrCat(" per GPU of ", plan.tp.tp) : "",
                                 ", batch ", plan.options.batch, ":");
  absl::StrAppend(&out, plan.tp.tp > 1 ? TpSummary(plan) : "", "\n");
  for (size_t w = 0; w < plan.weights.size(); ++w)
    for (size_t k = 0; k < AllKvTypes().size(); ++k) {
      const int64_t c = MaxContextThatFits(plan, w, k, gpu_bytes);
      absl::StrAppend(&out, absl::StrFormat("  %-14s kv %-5s ", plan.weights[w].name,
                                            AllKvTypes()[k].name));
      if (c < 0) {
        absl::StrAppend(&out, "does not fit (needs ",
                        GiB(TotalBytes(plan, w, k, std::max<int64_t>(plan.image_tokens, 1))),
                        " GiB at the smallest context)\n");
      } else {
        absl::StrAppend(&out, absl::StrFormat("%9d tokens  (%s GiB)%s\n", c,
                                              GiB(TotalBytes(plan, w, k, c)),
                                              c == plan.hp.max_context() ? "  = max context" : ""));
      }
    }
  return out;
}

}  // namespace glmq::plan
