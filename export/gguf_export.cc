#include "export/gguf_export.h"

#include <sys/stat.h>

#include <chrono>
#include <map>
#include <memory>

#include "absl/strings/str_cat.h"
#include "pipeline/source.h"
#include "core/dtype.h"
#include "core/status.h"
#include "export/gguf_arch.h"
#include "export/gguf_blocks.h"
#include "export/gguf_vocab.h"
#include "export/gguf_writer.h"
#include "format/embedded.h"
#include "format/model_check.h"
#include "schema/encodings.h"

namespace glmq::gguf {
namespace {

enum class Conversion { kCopy, kDenseToF32, kBlocks, kDecodeToF32 };

struct Planned {
  const pb::TensorEntry* entry;
  GgufPart part;
  const TensorTypeTraits* type;
  Conversion conversion;
};

std::string EncodingLabel(const pb::TensorEntry& e) {
  const EncodingTraits* t = FindEncoding(e.encoding());
  std::string s(t ? t->name : "?");
  if (t && t->quantized) absl::StrAppend(&s, " g", e.group_size());
  return s;
}

absl::StatusOr<Planned> PlanTensor(const pb::TensorEntry& e, GgufPart part) {
  const EncodingTraits* t = FindEncoding(e.encoding());
  const TensorTypeTraits* f32 = TensorTypeForEncoding(pb::ENCODING_F32);
  if (t == nullptr || e.encoding() == pb::ENCODING_I32) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor '", e.name(), "': encoding ", EncodingLabel(e), " has no GGUF form"));
  }
  if (t->quantized) {
    if (e.shape_size() > 1 && MapsToBlocks(e.encoding(), e.group_size(), TensorCols(e))) {
      return Planned{&e, part, TensorTypeForEncoding(e.encoding()), Conversion::kBlocks};
    }
    return Planned{&e, part, f32, Conversion::kDecodeToF32};
  }
  // llama.cpp multiplies by norms and adds biases in F32 (convert_hf_to_gguf.py
  // stores every 1-D tensor as F32).
  if (e.shape_size() == 1 && e.encoding() != pb::ENCODING_F32) {
    return Planned{&e, part, f32, Conversion::kDenseToF32};
  }
  return Planned{&e, part, TensorTypeForEncoding(e.encoding()), Conversion::kCopy};
}

void AddModelKeys(const pb::ModelMetadata& md, const ArchInfo& a, uint32_t file_type,
                  const std::string& name, GgufWriter* w) {
  const pb::HParams& hp = md.hparams();
  const std::string k(a.arch);
  w->AddString("general.architecture", a.arch);
  w->AddString("general.name", name);
  w->AddU32("general.file_type", file_type);
  w->AddU32("general.quantization_version", 2);  // GGML_QNT_VERSION
  w->AddU32(k + ".context_length", static_cast<uint32_t>(hp.max_context()));
  w->AddU32(k + ".embedding_length", static_cast<uint32_t>(hp.hidden_size()));
  w->AddU32(k + ".block_count", static_cast<uint32_t>(hp.n_layers()));
  w->AddU32(k + ".feed_forward_length", static_cast<uint32_t>(hp.ffn_hidden_size()));
  w->AddU32(k + ".attention.head_count", static_cast<uint32_t>(hp.n_heads()));
  w->AddU32(k + ".attention.head_count_kv", static_cast<uint32_t>(hp.n_kv_heads()));
  w->AddF32(k + ".attention.layer_norm_rms_epsilon", static_cast<float>(hp.norm_eps()));
  // Rope type NORM (pairs x[2i], x[2i+1]) is implied by both archs; only
  // the first rope_dims (= head_dim / 2) dims of a head rotate.
  w->AddU32(k + ".rope.dimension_count", static_cast<uint32_t>(hp.rope_dims()));
  w->AddF32(k + ".rope.freq_base", static_cast<float>(hp.rope_base()));
  if (hp.head_dim() * hp.n_heads() != hp.hidden_size()) {
    w->AddU32(k + ".attention.key_length", static_cast<uint32_t>(hp.head_dim()));
    w->AddU32(k + ".attention.value_length", static_cast<uint32_t>(hp.head_dim()));
  }
}

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(const pb::ModelMetadata& md,
                                                         const std::string& path) {
  std::map<std::string, std::string> files;
  for (const pb::EmbeddedFile& f : md.tokenizer().files()) {
    GLMQ_ASSIGN_OR_RETURN(files[f.name()], DecompressEmbeddedFile(f, path));
  }
  absl::StatusOr<std::unique_ptr<Tokenizer>> tok = Tokenizer::FromFiles(files);
  if (!tok.ok()) return Annotate(tok.status(), path + ": embedded tokenizer");
  return tok;
}

absl::Status AddTokenizerKeys(const pb::ModelMetadata& md, const ArchInfo& a, const Tokenizer& tok,
                              GgufWriter* w, GgufExportStats* stats) {
  const pb::HParams& hp = md.hparams();
  GLMQ_ASSIGN_OR_RETURN(GgufVocab v, BuildGgufVocab(tok, hp.padded_vocab_size()));
  stats->n_merges = v.merges.size();
  stats->unmergeable_tokens = v.unmergeable;
  w->AddString("tokenizer.ggml.model", "gpt2");
  w->AddString("tokenizer.ggml.pre", a.pre_tokenizer);
  w->AddStringArray("tokenizer.ggml.tokens", v.tokens);
  w->AddI32Array("tokenizer.ggml.token_type", v.types);
  w->AddStringArray("tokenizer.ggml.merges", v.merges);
  // As convert_hf_to_gguf.py: eos and unk <|endoftext|>, eot <|user|>.
  if (auto id = tok.SpecialTokenId("<|endoftext|>")) {
    w->AddU32("tokenizer.ggml.eos_token_id", *id);
    w->AddU32("tokenizer.ggml.unknown_token_id", *id);
  } else if (!tok.eos_ids().empty()) {
    w->AddU32("tokenizer.ggml.eos_token_id", tok.eos_ids()[0]);
  }
  if (auto id = tok.SpecialTokenId("<|user|>")) w->AddU32("tokenizer.ggml.eot_token_id", *id);
  if (hp.pad_token_id() > 0 && hp.pad_token_id() < hp.padded_vocab_size()) {
    w->AddU32("tokenizer.ggml.padding_token_id", static_cast<uint32_t>(hp.pad_token_id()));
  }
  w->AddBool("tokenizer.ggml.add_bos_token", false);  // prompts start with [gMASK]<sop>
  if (!md.tokenizer().chat_template().empty()) {
    w->AddString("tokenizer.chat_template", md.tokenizer().chat_template());
  }
  return absl::OkStatus();
}

// Streams one planned tensor in row chunks.
absl::Status WriteTensor(const TensorSource& src, const Planned& p, uint64_t chunk_bytes,
                         GgufWriter* w) {
  const pb::TensorEntry& e = *p.entry;
  const int64_t cols = TensorCols(e);
  if (e.shape_size() == 1) {  // a vector (norm, bias) or a slice of one: F32 values
    std::vector<float> v(cols);
    GLMQ_RETURN_IF_ERROR(src.ReadRowsF32(e, 0, 1, v.data()));
    return w->Write(reinterpret_cast<const uint8_t*>(v.data() + p.part.row_begin),
                    (p.part.row_end - p.part.row_begin) * sizeof(float));
  }
  GLMQ_ASSIGN_OR_RETURN(uint64_t in_row, RowBytes(e));
  const uint64_t out_row = TypeRowBytes(*p.type, cols);
  const int64_t chunk = std::max<int64_t>(1, chunk_bytes / std::max(in_row, out_row));
  std::vector<uint8_t> raw, out;
  std::vector<float> f32;
  for (int64_t r = p.part.row_begin; r < p.part.row_end; r += chunk) {
    const int64_t end = std::min(p.part.row_end, r + chunk), n = end - r;
    if (p.conversion == Conversion::kDecodeToF32) {
      f32.resize(n * cols);
      GLMQ_RETURN_IF_ERROR(src.ReadRowsF32(e, r, end, f32.data()));
      GLMQ_RETURN_IF_ERROR(w->Write(reinterpret_cast<const uint8_t*>(f32.data()), n * out_row));
      continue;
    }
    raw.resize(n * in_row);
    GLMQ_RETURN_IF_ERROR(src.ReadRowsRaw(e, r, end, raw.data()));
    if (p.conversion == Conversion::kCopy) {
      GLMQ_RETURN_IF_ERROR(w->Write(raw.data(), raw.size()));
      continue;
    }
    out.resize(n * out_row);
    if (p.conversion == Conversion::kBlocks) {
      GLMQ_RETURN_IF_ERROR(
          GlmqRowsToBlocks(e.encoding(), e.group_size(), cols, raw.data(), n, out.data()));
    } else {
      DType from;
      if (!DenseDType(e.encoding(), &from)) return absl::InternalError("dense encoding expected");
      ConvertToF32(from, raw.data(), reinterpret_cast<float*>(out.data()), n * cols);
    }
    GLMQ_RETURN_IF_ERROR(w->Write(out.data(), out.size()));
  }
  return absl::OkStatus();
}

// llama_ftype of the file: that of the most common matrix type.
uint32_t FileType(const std::vector<Planned>& plan) {
  std::map<uint32_t, uint64_t> numel;
  for (const Planned& p : plan) {
    if (p.entry->shape_size() < 2) continue;
    numel[p.type->file_type] += (p.part.row_end - p.part.row_begin) * TensorCols(*p.entry);
  }
  uint32_t best = 0;
  uint64_t most = 0;
  for (const auto& [ft, n] : numel) {
    if (n > most) best = ft, most = n;
  }
  return best;
}

std::string Stem(const std::string& path) {
  std::string s = path.substr(path.find_last_of('/') + 1);
  const size_t dot = s.rfind('.');
  return dot == std::string::npos ? s : s.substr(0, dot);
}

}  // namespace

absl::Status CheckNotSameFile(const std::string& in, const std::string& out) {
  struct stat a, b;
  if (in == out || (stat(in.c_str(), &a) == 0 && stat(out.c_str(), &b) == 0 &&
                    a.st_dev == b.st_dev && a.st_ino == b.st_ino)) {
    return absl::InvalidArgumentError(
        absl::StrCat("output ", out, " is the input file; choose another name"));
  }
  return absl::OkStatus();
}

absl::StatusOr<GgufExportStats> ExportGguf(const std::string& glmq_path,
                                           const std::string& out_path,
                                           const GgufExportOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  GLMQ_RETURN_IF_ERROR(CheckNotSameFile(glmq_path, out_path));
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<TensorSource> src, OpenGlmqSource(glmq_path, false));
  const pb::ModelMetadata& md = src->metadata();
  GLMQ_RETURN_IF_ERROR(CheckNoKeptColumns(md, glmq_path, "GGUF"));
  const ArchInfo* arch = ArchForLayout(md.hparams().layout());
  if (arch == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(glmq_path, ": layout ", pb::Layout_Name(md.hparams().layout()),
                     " has no llama.cpp text architecture (vision models are not exported)"));
  }
  GgufExportStats stats;
  stats.arch = std::string(arch->arch);
  std::vector<Planned> plan;
  for (const pb::TensorEntry& e : md.tensors()) {
    GLMQ_ASSIGN_OR_RETURN(std::vector<GgufPart> parts, GgufPartsFor(e, md.hparams(), *arch));
    for (GgufPart& part : parts) {
      GLMQ_ASSIGN_OR_RETURN(Planned p, PlanTensor(e, std::move(part)));
      plan.push_back(std::move(p));
    }
  }
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tok, LoadTokenizer(md, glmq_path));
  GgufWriter w;
  AddModelKeys(md, *arch, FileType(plan), Stem(glmq_path), &w);
  GLMQ_RETURN_IF_ERROR(AddTokenizerKeys(md, *arch, *tok, &w, &stats));
  for (const Planned& p : plan) {
    std::vector<int64_t> shape(p.entry->shape().begin(), p.entry->shape().end());
    shape[0] = p.part.row_end - p.part.row_begin;
    GLMQ_RETURN_IF_ERROR(w.AddTensor(p.part.name, shape, *p.type).status());
    const bool widened = p.conversion == Conversion::kDecodeToF32 ||
                         (p.conversion == Conversion::kBlocks && p.entry->group_size() != 32);
    stats.tensors.push_back(
        {p.part.name, std::string(p.type->name), EncodingLabel(*p.entry), widened});
  }
  // For the importer (llama.cpp ignores it): the glmq group size each
  // tensor's blocks came from, so `glmq convert M.gguf` restores the very
  // same tensors (same values in the same groups: KL 0 against the source).
  std::vector<int32_t> groups;
  for (const Planned& p : plan) {
    groups.push_back(p.conversion == Conversion::kBlocks ? p.entry->group_size() : -1);
  }
  w.AddI32Array(kGroupSizesKey, groups);
  GLMQ_RETURN_IF_ERROR(w.Start(out_path));
  for (const Planned& p : plan) {
    GLMQ_RETURN_IF_ERROR(Annotate(WriteTensor(*src, p, options.chunk_bytes, &w), glmq_path));
  }
  stats.file_bytes = w.bytes_written();
  GLMQ_RETURN_IF_ERROR(w.Finish());
  stats.n_tensors = static_cast<int>(plan.size());
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return stats;
}

}  // namespace glmq::gguf
