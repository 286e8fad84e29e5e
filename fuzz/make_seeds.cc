// fuzz_make_seeds OUT_DIR: writes the seed corpora of the fuzz targets,
// OUT_DIR/<target>/<name>, from the fixtures (shared/fixtures, the
// reference configs) and from small files made with glmq's own writers.
// Seeds stay small (a few KB) so that libFuzzer mutates them quickly.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "convert/safetensors.h"
#include "core/dtype.h"
#include "core/json.h"
#include "export/gguf_export.h"
#include "export/gguf_source.h"
#include "export/hf_quant_export.h"
#include "export/hf_quant_source.h"
#include "format/embedded.h"
#include "format/writer.h"
#include "fuzz/fuzz_util.h"
#include "image/test_images.h"
#include "runtime/logits_file.h"
#include "schema/encodings.h"
#include "schema/tensors.h"
#include "schema/weight.h"

namespace glmq {
namespace {

namespace fs = std::filesystem;
const std::string kShared = GLMQ_SHARED_DIR;

std::string Read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void Put(const fs::path& dir, const std::string& name, const std::string& bytes) {
  fs::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary) << bytes;
}

// The first `n` lines of the tiny chat model's tiktoken file (ranks 0..n-1:
// the 256 bytes and the first merges).
std::string TiktokenHead(int n) {
  const std::string all = Read(kShared + "/fixtures/models/glm4-tiny-chat/tokenizer.model");
  std::string out;
  int lines = 0;
  for (absl::string_view line : absl::StrSplit(all, '\n')) {
    if (lines++ == n) break;
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

// The 0414 fixture's tokenizer.json cut to ids < 300 and the merges among them.
std::string MiniTokenizerJson() {
  Json j = Json::parse(Read(kShared + "/fixtures/models/glm4-tiny-0414/tokenizer.json"));
  Json vocab = Json::object();
  for (auto& [k, v] : j["model"]["vocab"].items()) {
    if (v.get<int>() < 300) vocab[k] = v;
  }
  Json merges = Json::array();
  for (const Json& m : j["model"]["merges"]) {
    const std::string a = m[0], b = m[1];
    if (vocab.contains(a) && vocab.contains(b) && vocab.contains(a + b)) merges.push_back(m);
  }
  j["model"]["vocab"] = vocab;
  j["model"]["merges"] = merges;
  Json added = Json::array();
  int id = 300;
  for (const Json& t : j["added_tokens"]) {
    if (id == 306) break;
    Json c = t;
    c["id"] = id++;
    added.push_back(c);
  }
  j["added_tokens"] = added;
  return j.dump();
}

pb::HParams TinyHParams() {
  pb::HParams hp;
  hp.set_layout(pb::LAYOUT_CHATGLM);
  hp.set_n_layers(1);
  hp.set_hidden_size(16);
  hp.set_n_heads(2);
  hp.set_n_kv_heads(1);
  hp.set_head_dim(8);
  hp.set_ffn_hidden_size(32);
  hp.set_padded_vocab_size(320);
  hp.set_vocab_size(314);
  hp.set_max_context(64);
  hp.set_rope_dims(4);
  hp.set_rope_interleaved(true);
  hp.set_rope_base(10000);
  hp.set_norms_per_layer(2);
  hp.set_norm_eps(1e-5);
  hp.set_qkv_bias(true);
  return hp;
}

// The AWQ / GPTQ seeds' model: every linear a multiple of 32 wide, so
// groups of 32 fit the packing (rows and columns of 8, whole groups).
pb::HParams Tiny32HParams() {
  pb::HParams hp = TinyHParams();
  hp.set_hidden_size(32);
  hp.set_n_heads(4);
  hp.set_ffn_hidden_size(64);
  return hp;
}

// Tiny32HParams as a ChatGLM config.json (the tiny chat fixture's, resized;
// eos and pad inside the 300-token tokenizer): AWQ / GPTQ export writes it.
std::string Tiny32Config() {
  Json c = Json::parse(Read(kShared + "/fixtures/models/glm4-tiny-chat/config.json"));
  const pb::HParams hp = Tiny32HParams();
  c["num_layers"] = c["num_hidden_layers"] = hp.n_layers();
  c["hidden_size"] = hp.hidden_size();
  c["num_attention_heads"] = hp.n_heads();
  c["multi_query_group_num"] = hp.n_kv_heads();
  c["kv_channels"] = hp.head_dim();
  c["ffn_hidden_size"] = hp.ffn_hidden_size();
  c["padded_vocab_size"] = hp.padded_vocab_size();
  c["seq_length"] = hp.max_context();
  c["eos_token_id"] = Json::array({2});
  c["pad_token_id"] = 0;
  return c.dump(2);
}

// Random bf16 bytes for a dense tensor; for a quantized one (`quant`, g32)
// every group gets the f16 scale (and min) 2^-7 and codes inside the
// encoding's range: q8 codes are in [-127, 127], never -128
// (specs/encodings.md), which the GGUF importer refuses.
std::vector<uint8_t> TinyTensorBytes(const pb::TensorEntry& e, uint32_t* x) {
  std::vector<uint8_t> bytes(*EncodedBytes(e));
  for (size_t i = 0; i < bytes.size(); i += 2) {
    *x = *x * 1664525u + 1013904223u;
    const uint16_t v = F32ToBf16(((*x >> 8) % 2001 - 1000) / 4000.f);
    bytes[i] = static_cast<uint8_t>(v);
    if (i + 1 < bytes.size()) bytes[i + 1] = static_cast<uint8_t>(v >> 8);
  }
  if (e.group_size() == 0) return bytes;
  const auto geo = GetGroupGeometry(e.encoding(), e.group_size(), TensorCols(e));
  const int64_t header = geo->traits->group_header_bytes;
  for (size_t g = 0; g + geo->group_bytes <= bytes.size(); g += geo->group_bytes) {
    for (int64_t h = 0; h < header; h += 2) bytes[g + h] = 0, bytes[g + h + 1] = 0x20;
    if (e.encoding() == pb::ENCODING_Q4_ASYM) bytes[g + 3] = 0xa6;  // min -3 * 2^-7: zero 3
    if (e.encoding() != pb::ENCODING_Q8_SYM) continue;
    for (int64_t c = header; c < geo->group_bytes; ++c)
      if (bytes[g + c] == 0x80) bytes[g + c] = 0x81;
  }
  return bytes;
}

// A complete tiny model: every tensor of its hparams (bf16, or `matrices`
// g32 for the matrices), a 300-token tiktoken tokenizer embedded.
void TinyGlmq(const fs::path& dir, const std::string& name, pb::Encoding matrices,
              const pb::HParams& hp = TinyHParams(), const std::string& config_json = "") {
  const std::string path = (dir / name).string();
  fs::create_directories(dir);
  auto w = GlmqWriter::Create(path);
  if (!w.ok()) return;
  pb::ModelMetadata& md = (*w)->metadata();
  *md.mutable_hparams() = hp;
  md.set_source_config_json(config_json);
  md.mutable_tokenizer()->set_kind("tiktoken");
  *md.mutable_tokenizer()->add_files() = MakeEmbeddedFile("tokenizer.model", TiktokenHead(300));
  uint32_t x = 1;
  const auto tensors = ModelTensors(md.hparams());
  if (!tensors.ok()) {
    std::fprintf(stderr, "%s\n", std::string(tensors.status().message()).c_str());
    return;
  }
  for (const ModelTensor& t : *tensors) {
    pb::TensorEntry e;
    e.set_name(t.name);
    e.set_role(t.role);
    e.set_layer(t.layer);
    const bool quant = matrices != pb::ENCODING_BF16 && t.shape.size() == 2;
    e.set_encoding(quant ? matrices : pb::ENCODING_BF16);
    e.set_group_size(quant ? 32 : 0);
    for (int64_t d : t.shape) e.add_shape(d);
    const absl::Status s = (*w)->AddTensor(e, TinyTensorBytes(e, &x));
    if (!s.ok()) {
      std::fprintf(stderr, "%s: %s\n", path.c_str(), std::string(s.message()).c_str());
      return;
    }
  }
  (void)(*w)->Finish();
}

// Chat templates: the fixtures' (GLM-4 and 0414) and the Jinja2 reference
// cases of testdata/chat/jinja_cases.json.
void ChatTemplateSeeds(const fs::path& dir) {
  int n = 0;
  for (const char* m : {"glm4-tiny-chat", "glm4-tiny-0414"}) {
    const Json c = Json::parse(Read(kShared + "/fixtures/models/" + m + "/tokenizer_config.json"));
    if (c.contains("chat_template") && c["chat_template"].is_string())
      Put(dir, std::string(m) + ".jinja", c["chat_template"].get<std::string>());
  }
  const Json cases =
      Json::parse(Read(std::string(GLMQ_SOURCE_DIR) + "/testdata/chat/jinja_cases.json"));
  for (const Json& c : cases) Put(dir, absl::StrCat("case", n++, ".jinja"), c["template"]);
}

void SafetensorsSeeds(const fs::path& dir) {
  std::vector<SafetensorsTensor> ts = {{"a", DType::kBF16, {2, 3}, 0, 12},
                                       {"b", DType::kF32, {4}, 12, 16},
                                       {"c", DType::kF16, {1, 1, 2}, 28, 4}};
  Put(dir, "small.safetensors", SafetensorsHeader(ts) + std::string(32, '\x3c'));
  const std::string shard =
      Read(kShared + "/fixtures/models/glm4-tiny-chat/model-00001-of-00002.safetensors");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(shard[i]);
  Put(dir, "fixture_header_only.safetensors", shard.substr(0, 8 + n));
}

void LogitsSeeds(const fs::path& dir) {
  fs::create_directories(dir);
  LogitsHeader h;
  h.vocab = 8;
  h.ctx = 4;
  h.n_windows = 2;
  h.n_tokens = 8;
  h.tokens_xxh64 = 42;
  auto w = LogitsWriter::Create((dir / "two_windows.logits").string(), h);
  std::vector<float> l(3 * 8);
  for (size_t i = 0; i < l.size(); ++i) l[i] = 0.25f * static_cast<float>(i % 7);
  (void)(*w)->Add({0, 4, 1}, l);
  (void)(*w)->Add({4, 4, 1}, l);
  (void)(*w)->Finish();
}

void ImageSeeds(const fs::path& dir) {
  using namespace image::testing;
  auto put = [&](const std::string& name, const std::vector<uint8_t>& b) {
    Put(dir, name, std::string(b.begin(), b.end()));
  };
  PngSpec rgb{4, 3, PngColor::kRgb, 8, {}, {}, {}, {}, false};
  for (int i = 0; i < 4 * 3 * 3; ++i) rgb.samples.push_back(static_cast<uint16_t>(i * 7));
  put("rgb.png", EncodePng(rgb));
  const std::vector<uint8_t> rgb3 = {255, 0, 0, 0, 255, 0, 0, 0, 255};
  PngSpec pal{3, 2, PngColor::kPalette, 4, {0, 1, 2, 3, 1, 0}, rgb3, {128}, {}, false};
  put("palette.png", EncodePng(pal));
  PngSpec gray{2, 2, PngColor::kGray, 16, {0, 300, 65535, 12}, {}, {}, {}, true};  // interlaced
  put("gray16_interlaced.png", EncodePng(gray));
  std::vector<uint8_t> px(8 * 8 * 3);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>(i * 3);
  put("ycbcr.jpg", EncodeJpeg(8, 8, JpegColor::kYCbCr, px, 90));
  put("progressive.jpg", EncodeJpeg(8, 8, JpegColor::kYCbCr, px, 75, true));
  put("gray.jpg", EncodeJpeg(8, 8, JpegColor::kGray, std::vector<uint8_t>(64, 77)));
}

// Every row of every tensor of an opened import source.
absl::Status ReadEverything(absl::StatusOr<std::unique_ptr<TensorSource>> src) {
  if (!src.ok()) return src.status();
  std::vector<uint8_t> rows;
  for (const pb::TensorEntry& e : (*src)->metadata().tensors()) {
    const absl::StatusOr<uint64_t> row = RowBytes(e);
    if (!row.ok()) return row.status();
    rows.resize(*row * TensorRows(e));
    const absl::Status s = (*src)->ReadRowsRaw(e, 0, TensorRows(e), rows.data());
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

// The GGUF seeds: the glmq_reader seeds exported (F16/BF16 and Q8_0
// blocks); each must import cleanly, so that mutations start from the
// accepting path.
void GgufSeeds(const fs::path& out) {
  fs::create_directories(out / "gguf");
  for (const char* n : {"tiny_bf16", "tiny_q8"}) {
    const std::string gguf = (out / "gguf" / (std::string(n) + ".gguf")).string();
    auto s = gguf::ExportGguf((out / "glmq_reader" / (std::string(n) + ".glmq")).string(), gguf);
    absl::Status ok = s.status();
    if (ok.ok()) ok = ReadEverything(gguf::OpenGgufSource(gguf));
    if (!ok.ok()) std::fprintf(stderr, "gguf seed %s: %s\n", n, std::string(ok.message()).c_str());
  }
}

// The AWQ / GPTQ seeds: tiny q4 (and q4a) models exported by glmq, each
// folder packed into one input (fuzz_util.h); each must import cleanly.
void HfQuantSeeds(const fs::path& out) {
  const fs::path tmp = fs::temp_directory_path() / ("glmq_seeds_" + std::to_string(::getpid()));
  fs::create_directories(tmp);
  struct Seed {
    const char* name;
    pb::Encoding encoding;
    gguf::HfQuantFormat format;
  };
  for (const Seed& seed : {Seed{"awq_q4", pb::ENCODING_Q4_SYM, gguf::HfQuantFormat::kAwq},
                           Seed{"awq_q4a", pb::ENCODING_Q4_ASYM, gguf::HfQuantFormat::kAwq},
                           Seed{"gptq_q4", pb::ENCODING_Q4_SYM, gguf::HfQuantFormat::kGptq}}) {
    const std::string glmq = seed.name + std::string(".glmq");
    TinyGlmq(tmp, glmq, seed.encoding, Tiny32HParams(), Tiny32Config());
    const std::string dir = (tmp / seed.name).string();
    absl::Status s = gguf::ExportHfQuant((tmp / glmq).string(), dir, seed.format).status();
    if (s.ok()) s = ReadEverything(gguf::OpenHfQuantSource(dir));
    if (!s.ok()) {
      std::fprintf(stderr, "hf_quant seed %s: %s\n", seed.name, std::string(s.message()).c_str());
    }
    Put(out / "hf_quant", seed.name + std::string(".bin"), fuzz::PackFolder(dir));
  }
  fs::remove_all(tmp);
}

}  // namespace
}  // namespace glmq

int main(int argc, char** argv) {
  using namespace glmq;
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_make_seeds OUT_DIR\n");
    return 2;
  }
  const fs::path out = argv[1];
  TinyGlmq(out / "glmq_reader", "tiny_bf16.glmq", pb::ENCODING_BF16);
  TinyGlmq(out / "glmq_reader", "tiny_q8.glmq", pb::ENCODING_Q8_SYM);
  GgufSeeds(out);
  HfQuantSeeds(out);
  ChatTemplateSeeds(out / "chat_template");
  SafetensorsSeeds(out / "safetensors");
  for (const auto& e : fs::directory_iterator(kShared + "/reference/configs")) {
    const std::string n = e.path().filename();
    if (n.size() > 5 && n.substr(n.size() - 5) == ".json" && n.find("generation") == n.npos)
      Put(out / "hf_config", n, Read(e.path()));
  }
  for (const char* m : {"glm4-tiny-chat", "glm4-tiny-0414", "glm4-tiny-chat-hf", "glm4v-tiny"})
    Put(out / "hf_config", std::string(m) + ".json",
        Read(kShared + "/fixtures/models/" + m + "/config.json"));
  Put(out / "tiktoken", "head300.model", TiktokenHead(300));
  Put(out / "tiktoken", "head20.model", TiktokenHead(20));
  const std::string tj = MiniTokenizerJson();
  Put(out / "tokenizer_json", "mini.json", tj);
  const std::string tc = Read(kShared + "/fixtures/models/glm4-tiny-0414/tokenizer_config.json");
  Put(out / "tokenizer_json", "mini_with_config.json", tj + std::string(1, '\0') + tc);
  LogitsSeeds(out / "logits");
  Put(out / "tensor_type", "block.txt", "^blk\\.\\d+\\.attn_qkv\\.weight$=q8\nffn_down=q4:32\n");
  Put(out / "tensor_type", "edges.txt", "blk\\.(0|39)\\..*=q4a:64\noutput=bf16\ntoken_embd=f16\n");
  Put(out / "tensor_type", "classes.txt",
      "[a-z]+_(gate|up)+\\.w.*=q8:128\n(?:blk)\\.[1-3]\\d?\\.=q4:0\n");
  ImageSeeds(out / "image");
  return 0;
}
