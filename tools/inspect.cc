// glmq inspect FILE [--json] [--tensors]
// Prints what a .glmq file holds: hyperparameters, tokenizer, provenance,
// quantization recipe, evals, measured VRAM, and bits per weight overall, per role and per
// encoding (computed from the tensor entries). --tensors adds one row per
// tensor; --json prints the whole metadata as JSON instead (embedded file
// bytes left out). Opening validates the structure; checksums are `verify`'s.
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/checksum.h"
#include "core/progress.h"
#include "core/status.h"
#include "schema/weight.h"
#include "format/reader.h"
#include "format/summary.h"
#include "tools/command.h"

namespace glmq::tools {
namespace {

struct InspectArgs {
  std::string path;
  bool json = false;
  bool tensors = false;
};

std::string LayoutName(pb::Layout l) {
  return pb::Layout_IsValid(l) ? pb::Layout_Name(l) : absl::StrCat("layout_", static_cast<int>(l));
}

void PrintHParams(const pb::HParams& h) {
  std::printf("model      %s (%s, %s)\n", h.architecture().c_str(), h.model_type().c_str(),
              LayoutName(h.layout()).c_str());
  std::printf("hparams    n_layers %lld  hidden %lld  heads %lld/%lld kv  head_dim %lld  ffn %lld\n",
              (long long)h.n_layers(), (long long)h.hidden_size(), (long long)h.n_heads(),
              (long long)h.n_kv_heads(), (long long)h.head_dim(), (long long)h.ffn_hidden_size());
  std::printf("           vocab %lld (padded %lld)  context %lld  rope base %g dims %lld%s  eps %g\n",
              (long long)h.vocab_size(), (long long)h.padded_vocab_size(),
              (long long)h.max_context(), h.rope_base(), (long long)h.rope_dims(),
              h.rope_interleaved() ? " interleaved" : "", h.norm_eps());
  std::printf("           norms/layer %d  qkv_bias %d  tied %d  eos [%s]\n", h.norms_per_layer(),
              h.qkv_bias(), h.tied_embeddings(), absl::StrJoin(h.eos_token_ids(), ", ").c_str());
  if (h.has_vision())
    std::printf("vision     n_layers %lld  hidden %lld  heads %lld  patch %lld  image %lld\n",
                (long long)h.vision().n_layers(), (long long)h.vision().hidden_size(),
                (long long)h.vision().n_heads(), (long long)h.vision().patch_size(),
                (long long)h.vision().image_size());
}

void PrintTokenizerAndProvenance(const pb::ModelMetadata& m) {
  const pb::Tokenizer& t = m.tokenizer();
  std::printf("tokenizer  %s  %d special tokens  eos [%s]  chat template %zu chars\n",
              t.kind().empty() ? "(none)" : t.kind().c_str(), t.special_tokens_size(),
              absl::StrJoin(t.eos_token_ids(), ", ").c_str(), t.chat_template().size());
  for (const pb::EmbeddedFile& f : t.files())
    std::printf("           %s  %s (%s zstd)\n", f.name().c_str(), FormatBytes(f.size()).c_str(),
                FormatBytes(f.zstd_data().size()).c_str());
  const pb::Provenance& p = m.provenance();
  uint64_t src_bytes = 0;
  for (const pb::SourceFile& f : p.source_files()) src_bytes += f.size();
  if (p.tool_version().empty() && p.created_utc().empty() && p.source_files_size() == 0 &&
      p.parent_file().empty())
    return;
  std::printf("provenance %s  %s\n", p.tool_version().c_str(), p.created_utc().c_str());
  if (!p.source_dir().empty())
    std::printf("           from %s (%d files, %s)\n", p.source_dir().c_str(),
                p.source_files_size(), FormatBytes(src_bytes).c_str());
  if (!p.parent_file().empty())
    std::printf("           parent %s (metadata xxh64 %s)\n", p.parent_file().c_str(),
                HexU64(p.parent_xxh64()).c_str());
  if (!p.command_line().empty()) std::printf("           $ %s\n", p.command_line().c_str());
}

void PrintQuantAndEvals(const pb::ModelMetadata& m) {
  if (m.has_quant()) {
    const pb::QuantRecipe& q = m.quant();
    std::printf("quant      preset %s  recorded %.3f bits/weight\n", q.preset().c_str(),
                q.bits_per_weight());
    if (q.keep_outliers() > 0)
      std::printf("           %d kept input columns per linear at f16: %.3f of the bits/weight, "
                  "%.3f without them\n",
                  q.keep_outliers(), q.kept_bits_per_weight(),
                  q.bits_per_weight() - q.kept_bits_per_weight());
    for (const pb::QuantRule& r : q.rules())
      std::printf("           %-40s %s g%d\n", r.pattern().c_str(),
                  EncodingName(r.encoding()).c_str(), r.group_size());
    const pb::CalibrationInfo& c = q.calibration();
    if (c.n_tokens() > 0 || !c.data_name().empty()) {
      std::printf("           calibration %s on %s: %lld tokens, %lld windows of %lld\n",
                  c.method().c_str(), c.data_name().c_str(), (long long)c.n_tokens(),
                  (long long)c.n_windows(), (long long)c.window());
    } else if (!c.method().empty()) {
      std::printf("           method %s (no calibration data)\n", c.method().c_str());
    }
  }
  for (const pb::EvalResult& e : m.evals()) {
    std::string values;
    for (const auto& [k, v] : e.values()) absl::StrAppendFormat(&values, "  %s %.6g", k, v);
    std::printf("eval       %s on %s%s  (%s)\n", e.kind().c_str(), e.text_name().c_str(),
                values.c_str(), e.created_utc().c_str());
    if (e.protocol().empty() && e.reference_name().empty()) continue;
    std::printf("           text xxh64 %s  %s", HexU64(e.text_xxh64()).c_str(),
                e.protocol().c_str());
    if (!e.reference_name().empty())
      std::printf("  ref %s (xxh64 %s)", e.reference_name().c_str(),
                  HexU64(e.reference_xxh64()).c_str());
    std::printf("  %s on %s\n", e.tool_version().c_str(), e.device().c_str());
  }
}

// The measured VRAM sections (glmq plan --measure --record).
void PrintVram(const pb::ModelMetadata& m) {
  for (const pb::VramMeasurement& v : m.vram()) {
    std::printf("vram       v%u measured on %s (driver %s, CUDA %s), KV %s, chunk %lld, %s, "
                "%s (%s)\n",
                v.version(), v.card().c_str(), v.driver().c_str(), v.cuda_version().c_str(),
                v.kv_type().c_str(), (long long)v.prefill_chunk(), v.tool_version().c_str(),
                v.created_utc().c_str(), v.method().c_str());
    for (const pb::VramRow& r : v.rows())
      std::printf("           context %9lld  predicted %14llu  measured %14llu  %+7.2f %%%s\n",
                  (long long)r.context(), (unsigned long long)r.predicted_bytes(),
                  (unsigned long long)r.measured_bytes(), r.diff_percent(),
                  r.synthetic_kv() ? "  (synthetic KV)" : "");
  }
}

void PrintTally(const std::string& name, const BitsTally& t) {
  std::printf("  %-16s %5d tensors %16llu values %12s %8.3f bits/weight\n", name.c_str(),
              t.n_tensors, (unsigned long long)t.numel, FormatBytes(t.bytes).c_str(),
              t.bits_per_weight());
}

void PrintSummary(const pb::ModelMetadata& m) {
  const TensorSummary s = SummarizeTensors(m);
  std::printf("\nbits/weight: %.3f overall, %.3f without vision\n", s.all.bits_per_weight(),
              s.text.bits_per_weight());
  std::printf("by role:\n");
  for (const auto& [name, t] : s.by_role) PrintTally(name, t);
  std::printf("by encoding:\n");
  for (const auto& [name, t] : s.by_encoding) PrintTally(name, t);
  PrintTally("total", s.all);
}

void PrintTensorTable(const pb::ModelMetadata& m) {
  std::printf("\n%-44s %-16s %5s %-6s %5s %-18s %12s %8s\n", "name", "role", "layer", "enc",
              "group", "shape", "bytes", "bits/w");
  for (const pb::TensorEntry& e : m.tensors()) {
    const std::vector<int64_t> shape(e.shape().begin(), e.shape().end());
    std::printf("%-44s %-16s %5d %-6s %5d %-18s %12llu %8.3f\n", e.name().c_str(),
                RoleName(e.role()).c_str(), e.layer(), EncodingName(e.encoding()).c_str(),
                e.group_size(), ShapeString(shape).c_str(), (unsigned long long)e.size(),
                BitsPerWeight(e));
  }
}

absl::Status RunInspect(const InspectArgs& a) {
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<GlmqFile> file, GlmqFile::Open(a.path));
  const pb::ModelMetadata& m = file->metadata();
  if (a.json) {
    GLMQ_ASSIGN_OR_RETURN(std::string json, MetadataToJson(m));
    std::printf("%s\n", json.c_str());
    return absl::OkStatus();
  }
  std::printf("file       %s  format %u.%u  %s  %d tensors  metadata xxh64 %s\n",
              file->path().c_str(), file->major_version(), file->minor_version(),
              FormatBytes(file->file_size()).c_str(), m.tensors_size(),
              HexU64(file->metadata_xxh64()).c_str());
  PrintHParams(m.hparams());
  PrintTokenizerAndProvenance(m);
  PrintQuantAndEvals(m);
  PrintVram(m);
  PrintSummary(m);
  if (a.tensors) PrintTensorTable(m);
  return absl::OkStatus();
}

RunFn SetupInspect(CLI::App* sub) {
  auto args = std::make_shared<InspectArgs>();
  sub->add_option("file", args->path, ".glmq file")->required();
  sub->add_flag("--json", args->json, "print the metadata as JSON");
  sub->add_flag("--tensors", args->tensors, "add one row per tensor");
  return [args]() { return RunInspect(*args); };
}

}  // namespace

GLMQ_COMMAND(inspect, "inspect", "Show what a .glmq file holds (hparams, tensors, bits/weight)",
             SetupInspect);

}  // namespace glmq::tools
