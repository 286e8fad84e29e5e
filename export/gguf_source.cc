#include "export/gguf_source.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "core/version.h"
#include "core/status.h"
#include "export/gguf_arch.h"
#include "export/gguf_blocks.h"
#include "export/gguf_reader.h"
#include "export/gguf_types.h"
#include "export/gguf_vocab.h"
#include "format/embedded.h"
#include "format/writer.h"
#include "format/model_check.h"

namespace glmq::gguf {
namespace {

struct Part {
  const TensorInfo* info;
  int64_t row_begin;  // first canonical row it holds
  int64_t rows;
};

class GgufTensorSource : public TensorSource {
 public:
  const pb::ModelMetadata& metadata() const override { return md_; }
  absl::Status ReadRowsRaw(const pb::TensorEntry& entry, int64_t row_begin, int64_t row_end,
                           uint8_t* out) const override;
  absl::Status Init(std::unique_ptr<GgufFile> f);

 private:
  absl::Status CollectTensors();
  absl::Status AddEntry(const CanonicalOf& c,
                        const std::vector<std::pair<int, const TensorInfo*>>& list,
                        const absl::flat_hash_map<std::string, int64_t>& hints);
  absl::Status FillHParams();
  absl::Status FillTokenizer();
  std::unique_ptr<GgufFile> file_;
  pb::ModelMetadata md_;
  absl::flat_hash_map<std::string, std::vector<Part>> parts_;  // canonical name -> GGUF parts
  const ArchInfo* arch_ = nullptr;
};

absl::Status Bad(const GgufFile& f, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(f.name(), ": ", what));
}

// Canonical order (specs/glm4-tensors.md): token_embd, blocks in role order,
// then output_norm and output.
int64_t OrderKey(const pb::TensorEntry& e) {
  const int64_t group = e.role() == pb::ROLE_TOKEN_EMBD ? -1
                        : e.layer() < 0                 ? (1 << 30)
                                                        : e.layer();
  return group * 64 + e.role();
}

// GGUF tensors of one canonical tensor (1, or attn_q/k/v in part order).
using Pieces = std::vector<std::pair<int, const TensorInfo*>>;

absl::Status GgufTensorSource::AddEntry(const CanonicalOf& c, const Pieces& list,
                                        const absl::flat_hash_map<std::string, int64_t>& hints) {
  const std::string& name = c.name;
  const bool want3 = c.part >= 0;
  if ((want3 && list.size() != 3) || (!want3 && list.size() != 1)) {
    return Bad(*file_, absl::StrCat("tensor '", name, "': expected ",
                                    want3 ? "attn_q, attn_k and attn_v" : "one tensor", ", found ",
                                    list.size()));
  }
  const TensorInfo& first = *list[0].second;
  pb::TensorEntry e;
  e.set_name(name);
  e.set_role(c.role);
  e.set_layer(c.layer);
  const TensorTypeTraits* tt = FindTensorType(first.type);
  e.set_encoding(tt->glmq_encoding);
  e.set_group_size(tt->glmq_group_size);
  const bool vector = first.ne.size() == 1;
  if (vector && tt->block_values != 1) {
    return Bad(*file_, absl::StrCat("tensor '", first.name, "' is 1-D and ", tt->name,
                                    " (1-D tensors must be F32, F16 or BF16)"));
  }
  // Parts in canonical units: rows of a matrix, values of a vector (a
  // fused q|k|v bias is its parts end to end).
  int64_t units = 0;
  std::vector<Part>& parts = parts_[name];
  for (const auto& [idx, t] : list) {
    if (t->type != first.type || t->ne.size() != first.ne.size() ||
        (!vector && t->ne[0] != first.ne[0])) {
      return Bad(*file_, absl::StrCat("tensor '", t->name,
                                      "' differs in type, dims or width from '", first.name, "'"));
    }
    const int64_t n = vector ? t->ne[0] : t->ne[1];
    parts.push_back({t, units, n});
    units += n;
    e.add_source_names(t->name);
  }
  e.add_shape(units);
  if (!vector) e.add_shape(first.ne[0]);
  if (auto h = hints.find(first.name); h != hints.end() && h->second >= 0 &&
                                       tt->glmq_group_size > 0 &&
                                       h->second != tt->glmq_group_size) {
    if (h->second > (1 << 20) ||
        !MapsToBlocks(tt->glmq_encoding, static_cast<int>(h->second), TensorCols(e))) {
      return Bad(*file_, absl::StrCat("key '", kGroupSizesKey, "': group size ", h->second,
                                      " does not fit tensor '", first.name, "'"));
    }
    e.set_group_size(static_cast<int>(h->second));
  }
  *md_.add_tensors() = std::move(e);
  return absl::OkStatus();
}

absl::Status GgufTensorSource::CollectTensors() {
  std::map<std::string, Pieces> by_name;
  std::map<std::string, CanonicalOf> canon;
  bool split = false;
  absl::flat_hash_map<std::string, int64_t> group_hint;
  if (const Value* g = file_->Find(kGroupSizesKey)) {
    if (g->type != ValueType::kArray || g->ints.size() != file_->tensors().size()) {
      return Bad(*file_, absl::StrCat("key '", kGroupSizesKey,
                                      "' must be an integer array with one "
                                      "entry per tensor (",
                                      file_->tensors().size(), ")"));
    }
    for (size_t k = 0; k < g->ints.size(); ++k) group_hint[file_->tensors()[k].name] = g->ints[k];
  }
  for (const TensorInfo& t : file_->tensors()) {
    absl::StatusOr<CanonicalOf> c = CanonicalForGguf(t.name);
    if (!c.ok()) return Annotate(c.status(), file_->name());
    if (FindTensorType(t.type) == nullptr) {
      const BlockLayout* b = FindBlockLayout(t.type);
      return Bad(*file_, absl::StrCat("tensor '", t.name, "' is ", b ? b->name : "?",
                                      "; glmq imports F32, F16, BF16, Q8_0, Q4_0 and Q4_1"));
    }
    if (t.ne.size() > 2)
      return Bad(*file_, absl::StrCat("tensor '", t.name, "' has more than 2 dims"));
    split |= c->part >= 0;
    by_name[c->name].push_back({std::max(c->part, 0), &t});
    canon[c->name] = *c;
  }
  for (auto& [name, list] : by_name) {
    std::sort(list.begin(), list.end(), [](auto& a, auto& b) { return a.first < b.first; });
    GLMQ_RETURN_IF_ERROR(AddEntry(canon[name], list, group_hint));
  }
  std::sort(
      md_.mutable_tensors()->begin(), md_.mutable_tensors()->end(),
      [](const pb::TensorEntry& a, const pb::TensorEntry& b) { return OrderKey(a) < OrderKey(b); });
  GLMQ_ASSIGN_OR_RETURN(std::string arch, file_->GetString("general.architecture"));
  arch_ = ArchForGguf(arch, split);
  if (arch_ == nullptr) {
    return Bad(*file_, absl::StrCat("general.architecture '", arch,
                                    "' is not a GLM-4 text architecture (chatglm, glm4)"));
  }
  return absl::OkStatus();
}

// An optional integer / float key: `fallback` when absent, an error naming
// the key when present with another type (dereferencing the failed
// StatusOr aborted).
absl::StatusOr<int64_t> IntOr(const GgufFile& f, const std::string& key, int64_t fallback) {
  return f.Find(key) != nullptr ? f.GetInt(key) : absl::StatusOr<int64_t>(fallback);
}
absl::StatusOr<double> FloatOr(const GgufFile& f, const std::string& key, double fallback) {
  return f.Find(key) != nullptr ? f.GetFloat(key) : absl::StatusOr<double>(fallback);
}

absl::Status GgufTensorSource::FillHParams() {
  pb::HParams& hp = *md_.mutable_hparams();
  const GgufFile& f = *file_;
  const std::string k(arch_->arch);
  hp.set_layout(arch_->layout);
  hp.set_architecture(std::string(arch_->hf_architecture));
  hp.set_model_type(std::string(arch_->hf_model_type));
  GLMQ_ASSIGN_OR_RETURN(int64_t n_layers, f.GetInt(k + ".block_count"));
  GLMQ_ASSIGN_OR_RETURN(int64_t hidden, f.GetInt(k + ".embedding_length"));
  GLMQ_ASSIGN_OR_RETURN(int64_t heads, f.GetInt(k + ".attention.head_count"));
  GLMQ_ASSIGN_OR_RETURN(int64_t ffn, f.GetInt(k + ".feed_forward_length"));
  GLMQ_ASSIGN_OR_RETURN(double eps, f.GetFloat(k + ".attention.layer_norm_rms_epsilon"));
  if (n_layers <= 0 || hidden <= 0 || heads <= 0 || ffn <= 0 || hidden % heads != 0) {
    return Bad(f,
               "block_count, embedding_length, head_count, feed_forward_length must be "
               "positive, embedding_length a multiple of head_count");
  }
  GLMQ_ASSIGN_OR_RETURN(const int64_t kv, IntOr(f, k + ".attention.head_count_kv", heads));
  GLMQ_ASSIGN_OR_RETURN(const int64_t head_dim,
                        IntOr(f, k + ".attention.key_length", hidden / heads));
  hp.set_n_layers(n_layers);
  hp.set_hidden_size(hidden);
  hp.set_n_heads(heads);
  hp.set_n_kv_heads(kv);
  hp.set_head_dim(head_dim);
  hp.set_ffn_hidden_size(ffn);
  hp.set_norm_eps(eps);
  GLMQ_ASSIGN_OR_RETURN(const int64_t max_context, IntOr(f, k + ".context_length", 0));
  hp.set_max_context(max_context);
  GLMQ_ASSIGN_OR_RETURN(const double rope_base, FloatOr(f, k + ".rope.freq_base", 10000.0));
  hp.set_rope_base(rope_base);
  GLMQ_ASSIGN_OR_RETURN(const int64_t rope_dims,
                        IntOr(f, k + ".rope.dimension_count", head_dim / 2));
  hp.set_rope_dims(rope_dims);
  hp.set_rope_interleaved(true);  // llama.cpp's rope type NORM for chatglm and glm4
  hp.set_norms_per_layer(arch_->norms_per_layer);
  const TensorInfo* embd = f.FindTensor("token_embd.weight");
  if (embd == nullptr || embd->ne.size() != 2)
    return Bad(f, "tensor 'token_embd.weight' is missing");
  hp.set_padded_vocab_size(embd->ne[1]);
  hp.set_qkv_bias(parts_.contains("blk.0.attn_qkv.bias"));
  hp.set_tied_embeddings(f.FindTensor("output.weight") == nullptr);
  if (f.Find("tokenizer.ggml.padding_token_id")) {
    GLMQ_ASSIGN_OR_RETURN(int64_t pad, f.GetInt("tokenizer.ggml.padding_token_id"));
    hp.set_pad_token_id(pad);
  }
  return absl::OkStatus();
}

absl::Status GgufTensorSource::FillTokenizer() {
  GLMQ_ASSIGN_OR_RETURN(TokenizerFiles tf, TokenizerFilesFromGguf(*file_));
  pb::Tokenizer& t = *md_.mutable_tokenizer();
  t.set_kind("tiktoken");
  *t.add_files() = MakeEmbeddedFile("tokenizer.model", tf.tiktoken);
  *t.add_files() = MakeEmbeddedFile("tokenizer_config.json", tf.tokenizer_config);
  int64_t max_id = -1;
  for (const auto& [content, id] : tf.specials) {
    (*t.mutable_special_tokens())[content] = id;
    max_id = std::max(max_id, id);
  }
  for (int64_t id : tf.eos_ids) {
    t.add_eos_token_ids(id);
    md_.mutable_hparams()->add_eos_token_ids(id);
  }
  t.set_chat_template(tf.chat_template);
  const int64_t regular = std::count(tf.tiktoken.begin(), tf.tiktoken.end(), '\n');
  md_.mutable_hparams()->set_vocab_size(std::max(max_id + 1, regular));
  return absl::OkStatus();
}

absl::Status GgufTensorSource::Init(std::unique_ptr<GgufFile> f) {
  file_ = std::move(f);
  GLMQ_RETURN_IF_ERROR(CollectTensors());
  GLMQ_RETURN_IF_ERROR(FillHParams());
  GLMQ_RETURN_IF_ERROR(FillTokenizer());
  // The one validator (schema/hparams.h), then the tensors against the
  // tensor table, before anything derives a size from the keys
  // (block_count 2^40 would loop for minutes) or writes a file that
  // `glmq verify` would refuse.
  GLMQ_RETURN_IF_ERROR(CheckTensorsMatchHParams(md_, file_->name()));
  md_.mutable_provenance()->set_source_dir(file_->name());
  return absl::OkStatus();
}

// glmq's q8 codes are in [-127, 127] (specs/encodings.md: the kernels
// negate and take |w|). ggml's Q8_0 quantizer never writes -128 (scale
// max|x| / 127, codes rounded within +-127), but the format allows it and
// another writer may use it. Such a block has no exact q8 form (a wider
// scale would change every value of it), so the import refuses the file,
// naming the tensor, row and block, rather than change values silently.
absl::Status CheckQ8Codes(const std::string& file, const std::string& tensor, const uint8_t* src,
                          uint64_t n, uint64_t unit, int64_t first_row, bool vector) {
  constexpr uint64_t kBlock = 34;  // f16 scale + 32 int8 codes
  for (uint64_t b = 0; b + kBlock <= n; b += kBlock) {
    if (std::memchr(src + b + 2, 0x80, 32) == nullptr) continue;
    const std::string where =
        vector ? absl::StrCat("block ", first_row / 32 + b / kBlock)
               : absl::StrCat("row ", first_row + b / unit, ", block ", (b % unit) / kBlock);
    return absl::InvalidArgumentError(absl::StrCat(
        file, ": tensor '", tensor, "' ", where,
        " has the Q8_0 code -128; glmq's q8 codes are in [-127, 127] and ggml's quantizer "
        "writes only those, so this file was written by another tool; convert the F16/BF16 "
        "GGUF or the Hugging Face folder instead"));
  }
  return absl::OkStatus();
}

absl::Status GgufTensorSource::ReadRowsRaw(const pb::TensorEntry& entry, int64_t row_begin,
                                           int64_t row_end, uint8_t* out) const {
  auto it = parts_.find(entry.name());
  if (it == parts_.end())
    return absl::NotFoundError(absl::StrCat("no tensor '", entry.name(), "'"));
  const bool vector = entry.shape_size() == 1;
  const TensorTypeTraits& tt = *FindTensorType(it->second[0].info->type);
  // A 1-D tensor is one row; its parts (q|k|v biases) are pieces of it.
  const uint64_t unit = vector ? tt.block_bytes : TypeRowBytes(tt, TensorCols(entry));
  const int64_t begin = vector ? 0 : row_begin, end = vector ? TensorCols(entry) : row_end;
  if (row_begin < 0 || row_end > TensorRows(entry) || row_begin > row_end) {
    return absl::OutOfRangeError(absl::StrCat("tensor '", entry.name(), "': rows out of range"));
  }
  for (const Part& p : it->second) {
    const int64_t lo = std::max(begin, p.row_begin), hi = std::min(end, p.row_begin + p.rows);
    if (lo >= hi) continue;
    const absl::Span<const uint8_t> data = file_->TensorData(*p.info);
    const uint8_t* src = data.data() + (lo - p.row_begin) * unit;
    const uint64_t n = (hi - lo) * unit;
    if (tt.type == TensorType::kQ8_0) {
      GLMQ_RETURN_IF_ERROR(
          CheckQ8Codes(file_->name(), p.info->name, src, n, unit, lo - p.row_begin, vector));
    }
    if (entry.group_size() == tt.glmq_group_size || vector) {
      std::memcpy(out + (lo - begin) * unit, src, n);
      continue;
    }
    GLMQ_ASSIGN_OR_RETURN(uint64_t row_bytes, RowBytes(entry));
    absl::Status s = BlocksToGlmqRows(entry.encoding(), entry.group_size(), TensorCols(entry), src,
                                      hi - lo, out + (lo - begin) * row_bytes);
    if (!s.ok()) return Annotate(s, absl::StrCat(file_->name(), ": tensor '", p.info->name, "'"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<TensorSource>> OpenGgufSource(const std::string& path) {
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<GgufFile> f, GgufFile::Open(path));
  auto src = std::make_unique<GgufTensorSource>();
  GLMQ_RETURN_IF_ERROR(src->Init(std::move(f)));
  return std::unique_ptr<TensorSource>(std::move(src));
}

absl::StatusOr<ImportStats> WriteGlmqFromSource(const TensorSource& src,
                                                const std::string& out_path,
                                                const std::string& command_line) {
  const auto start = std::chrono::steady_clock::now();
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<GlmqWriter> w, GlmqWriter::Create(out_path));
  pb::ModelMetadata& md = w->metadata();
  md = src.metadata();
  md.clear_tensors();
  pb::Provenance* prov = md.mutable_provenance();
  prov->set_tool_version(GlmqToolVersion());
  prov->set_command_line(command_line);
  prov->set_created_utc(UtcNowRfc3339());
  ImportStats stats;
  std::vector<uint8_t> buf;
  for (const pb::TensorEntry& e : src.metadata().tensors()) {
    pb::TensorEntry out = e;
    out.clear_offset();
    out.clear_size();
    out.clear_xxh64();
    GLMQ_RETURN_IF_ERROR(w->BeginTensor(out));
    GLMQ_ASSIGN_OR_RETURN(uint64_t row, RowBytes(e));
    const int64_t rows = TensorRows(e), chunk = std::max<int64_t>(1, (16 << 20) / row);
    for (int64_t r = 0; r < rows; r += chunk) {
      const int64_t end = std::min(rows, r + chunk);
      buf.resize((end - r) * row);
      GLMQ_RETURN_IF_ERROR(src.ReadRowsRaw(e, r, end, buf.data()));
      GLMQ_RETURN_IF_ERROR(w->AppendTensorData(buf));
    }
    GLMQ_RETURN_IF_ERROR(w->EndTensor());
    ++stats.n_tensors;
  }
  GLMQ_RETURN_IF_ERROR(w->Finish());
  stats.file_bytes = w->bytes_written();
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return stats;
}

absl::StatusOr<ImportStats> ImportGguf(const std::string& gguf_path, const std::string& out_path,
                                       const std::string& command_line) {
  GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<TensorSource> src, OpenGgufSource(gguf_path));
  return WriteGlmqFromSource(*src, out_path, command_line);
}

}  // namespace glmq::gguf
