// `glmq export --to gguf` and `glmq convert M.gguf` end to end on the three
// trained text fixtures (chatglm, glm, glm4 layouts):
//  - every exported tensor, decoded by ggml's published block layout
//    (export/gguf_blocks.h DequantizeGgml), equals glmq's own decoding of
//    the source rows bit for bit (bf16, int8-g128, int4-g128, int4a-g32);
//  - the GGUF imported back holds the very same tensors (encoding, group
//    size, bytes), and `glmq eval kld` of the round trip is exactly 0;
//  - refusals and malformed inputs give clear errors.
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "convert/safetensors.h"
#include "pipeline/source.h"
#include "core/file.h"
#include "core/json.h"
#include "export/gguf_arch.h"
#include "export/gguf_blocks.h"
#include "export/gguf_reader.h"
#include "export/gguf_writer.h"
#include "export/hf_quant.h"
#include "format/reader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "quant/dequantize.h"
#include "tests/cli_util.h"

namespace glmq {
namespace {

using ::testing::HasSubstr;

const std::string kModels = std::string(GLMQ_SHARED_DIR) + "/fixtures/models/";
const std::string kValid = std::string(GLMQ_SHARED_DIR) + "/fixtures/text/valid.txt";

// Per-process temporary files, removed when the test binary ends.
std::vector<std::string>& Created() {
  static auto* v = new std::vector<std::string>();
  return *v;
}
std::string Tmp(const std::string& name) {
  Created().push_back(::testing::TempDir() + "/export_cli_" + std::to_string(getpid()) + "_" +
                      name);
  return Created().back();
}
class RemoveTemps : public ::testing::Environment {
 public:
  void TearDown() override {
    std::error_code ec;
    for (const std::string& p : Created()) std::filesystem::remove_all(p, ec);
  }
};
const auto* const kRemoveTemps = ::testing::AddGlobalTestEnvironment(new RemoveTemps);

int Glmq(const std::string& args, std::string* out) {
  testing::CliResult r = testing::RunGlmq(args);
  *out = r.output;
  return r.exit_code;
}

// model.glmq (bf16, or quantized with `scheme`) made from a fixture.
std::string MakeGlmq(const std::string& fixture, const std::string& scheme) {
  std::string out;
  const std::string bf16 = Tmp(fixture + ".glmq");
  if (!FileExists(bf16)) {
    EXPECT_EQ(Glmq("convert " + kModels + fixture + " -o " + bf16, &out), 0) << out;
  }
  if (scheme == "bf16") return bf16;
  const std::string q = Tmp(fixture + "-" + scheme + ".glmq");
  EXPECT_EQ(Glmq("quantize " + bf16 + " -o " + q + " --scheme " + scheme, &out), 0) << out;
  return q;
}

// Every GGUF tensor decoded by ggml's layout == glmq's decoding of its rows.
void ExpectBitExact(const std::string& glmq_path, const std::string& gguf_path) {
  auto g = GlmqFile::Open(glmq_path);
  auto f = gguf::GgufFile::Open(gguf_path);
  ASSERT_TRUE(g.ok() && f.ok()) << g.status() << f.status();
  const pb::ModelMetadata& md = (*g)->metadata();
  const gguf::ArchInfo* arch = gguf::ArchForLayout(md.hparams().layout());
  ASSERT_NE(arch, nullptr);
  size_t n_parts = 0;
  for (const pb::TensorEntry& e : md.tensors()) {
    auto parts = gguf::GgufPartsFor(e, md.hparams(), *arch);
    ASSERT_TRUE(parts.ok()) << parts.status();
    const int64_t cols = TensorCols(e);
    std::vector<float> ours(TensorRows(e) * cols);
    ASSERT_TRUE(DequantizeTensor(e, (*g)->TensorData(e), 0, TensorRows(e), ours.data()).ok());
    for (const gguf::GgufPart& p : *parts) {
      SCOPED_TRACE(p.name);
      const gguf::TensorInfo* t = (*f)->FindTensor(p.name);
      ASSERT_NE(t, nullptr);
      const int64_t n =
          e.shape_size() == 1 ? p.row_end - p.row_begin : (p.row_end - p.row_begin) * cols;
      const int64_t first = e.shape_size() == 1 ? p.row_begin : p.row_begin * cols;
      std::vector<float> theirs(n);
      ASSERT_TRUE(gguf::DequantizeGgml(static_cast<gguf::TensorType>(t->type),
                                       (*f)->TensorData(*t).data(), n, theirs.data())
                      .ok());
      // Equal as floats: ggml's (u - 8) * d is -0.0 where glmq's d * q + 0
      // gives +0.0 (a negative scale and the code 8); nothing else differs.
      int64_t differ = 0;
      for (int64_t i = 0; i < n; ++i) differ += !(theirs[i] == ours[first + i]);
      EXPECT_EQ(differ, 0);
      ++n_parts;
    }
  }
  EXPECT_EQ(n_parts, (*f)->tensors().size());
}

// The imported .glmq has the same tensors: encoding, group size, shape, bytes
// (1-D tensors are F32 in GGUF: same values).
void ExpectSameTensors(const std::string& a_path, const std::string& b_path) {
  auto a = GlmqFile::Open(a_path);
  auto b = GlmqFile::Open(b_path);
  ASSERT_TRUE(a.ok() && b.ok()) << a.status() << b.status();
  ASSERT_EQ((*a)->metadata().tensors_size(), (*b)->metadata().tensors_size());
  for (const pb::TensorEntry& e : (*a)->metadata().tensors()) {
    SCOPED_TRACE(e.name());
    const pb::TensorEntry* o = (*b)->FindTensor(e.name());
    ASSERT_NE(o, nullptr);
    EXPECT_EQ(std::vector<int64_t>(e.shape().begin(), e.shape().end()),
              std::vector<int64_t>(o->shape().begin(), o->shape().end()));
    if (e.shape_size() == 1) {
      std::vector<float> x(TensorCols(e)), y(TensorCols(e));
      ASSERT_TRUE(DequantizeTensor(e, (*a)->TensorData(e), 0, 1, x.data()).ok());
      ASSERT_TRUE(DequantizeTensor(*o, (*b)->TensorData(*o), 0, 1, y.data()).ok());
      EXPECT_EQ(x, y);
      continue;
    }
    EXPECT_EQ(e.encoding(), o->encoding());
    EXPECT_EQ(e.group_size(), o->group_size());
    EXPECT_EQ(e.xxh64(), o->xxh64());
  }
  EXPECT_EQ((*a)->hparams().layout(), (*b)->hparams().layout());
  EXPECT_EQ((*a)->hparams().norms_per_layer(), (*b)->hparams().norms_per_layer());
  EXPECT_EQ(static_cast<float>((*a)->hparams().norm_eps()),
            static_cast<float>((*b)->hparams().norm_eps()));
  EXPECT_EQ((*a)->hparams().rope_base(), (*b)->hparams().rope_base());
}

struct Case {
  std::string fixture, scheme;
};

class ExportRoundTrip : public ::testing::TestWithParam<Case> {};

TEST_P(ExportRoundTrip, BitExactAndBack) {
  const Case& c = GetParam();
  const std::string src = MakeGlmq(c.fixture, c.scheme);
  const std::string gguf = Tmp(c.fixture + "-" + c.scheme + ".gguf");
  const std::string back = Tmp(c.fixture + "-" + c.scheme + "-rt.glmq");
  std::string out;
  ASSERT_EQ(Glmq("export " + src + " --to gguf -o " + gguf, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("every tensor exact"));
  ExpectBitExact(src, gguf);
  ASSERT_EQ(Glmq("convert " + gguf + " -o " + back, &out), 0) << out;
  ExpectSameTensors(src, back);
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, ExportRoundTrip,
    ::testing::Values(Case{"glm4-tiny-chat", "bf16"}, Case{"glm4-tiny-chat", "int8-g128"},
                      Case{"glm4-tiny-chat", "int4-g128"}, Case{"glm4-tiny-chat", "int4a-g32"},
                      Case{"glm4-tiny-chat-hf", "bf16"}, Case{"glm4-tiny-chat-hf", "int4-g128"},
                      Case{"glm4-tiny-0414", "bf16"}, Case{"glm4-tiny-0414", "int4a-g32"}),
    [](const auto& info) {
      std::string s = info.param.fixture + "_" + info.param.scheme;
      for (char& ch : s) ch = isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
      return s;
    });

TEST(ExportCli, RoundTripKlIsExactlyZero) {
  const std::string src = MakeGlmq("glm4-tiny-0414", "int4-g128");
  const std::string gguf = Tmp("kl.gguf"), back = Tmp("kl-rt.glmq");
  std::string out;
  ASSERT_EQ(Glmq("export " + src + " --to gguf -o " + gguf, &out), 0) << out;
  ASSERT_EQ(Glmq("convert " + gguf + " -o " + back, &out), 0) << out;
  ASSERT_EQ(Glmq("eval kld --model " + back + " --ref " + src + " --text " + kValid +
                     " --max-windows 4 --json",
                 &out),
            0)
      << out;
  EXPECT_THAT(out, HasSubstr("\"mean_kld\": 0.0,")) << out;
  EXPECT_THAT(out, HasSubstr("\"kld_max\": 0.0,")) << out;
}

TEST(ExportCli, RefusalsAreClear) {
  const std::string src = MakeGlmq("glm4-tiny-chat", "bf16");
  std::string out;
  EXPECT_EQ(Glmq("export " + src + " --to awq -o " + Tmp("awq"), &out), 1);
  EXPECT_THAT(out, HasSubstr("tensor 'blk.0.attn_qkv.weight' is bf16; AWQ/GPTQ hold 4-bit groups "
                             "only (quantize with --scheme int4-g128, which exports exactly)"));
  EXPECT_EQ(Glmq("export " + src + " --to gguf -o " + src, &out), 1);
  EXPECT_THAT(out, HasSubstr("is the input file"));
  EXPECT_TRUE(GlmqFile::Open(src).ok());  // untouched
}

TEST(ExportCli, MalformedGgufGivesClearErrors) {
  const std::string src = MakeGlmq("glm4-tiny-chat", "int4-g32");
  const std::string gguf = Tmp("m.gguf");
  std::string out;
  ASSERT_EQ(Glmq("export " + src + " --to gguf -o " + gguf, &out), 0) << out;
  std::string bytes = *ReadFileToString(gguf);
  const std::string cut = Tmp("cut.gguf");
  ASSERT_TRUE(WriteFileAtomically(cut, bytes.substr(0, bytes.size() / 2)).ok());
  EXPECT_EQ(Glmq("convert " + cut + " -o " + Tmp("cut.glmq"), &out), 1);
  EXPECT_THAT(out, HasSubstr(cut));
  EXPECT_THAT(out, HasSubstr("beyond the end of the data section"));
  // A K-quant tensor: refused, naming it and its type.
  gguf::GgufWriter w;
  w.AddString("general.architecture", "chatglm");
  const gguf::TensorTypeTraits f32 = *gguf::FindTensorType(0);
  gguf::TensorTypeTraits q4k = f32;
  q4k.type = static_cast<gguf::TensorType>(12);  // Q4_K: 256 values in 144 bytes
  q4k.block_values = 256;
  q4k.block_bytes = 144;
  ASSERT_TRUE(w.AddTensor("blk.0.ffn_down.weight", {1, 256}, q4k).ok());
  const std::string kq = Tmp("k.gguf");
  ASSERT_TRUE(w.Start(kq).ok());
  std::vector<uint8_t> zeros(144);
  ASSERT_TRUE(w.Write(zeros.data(), zeros.size()).ok());
  ASSERT_TRUE(w.Finish().ok());
  EXPECT_EQ(Glmq("convert " + kq + " -o " + Tmp("k.glmq"), &out), 1);
  EXPECT_THAT(out, HasSubstr("tensor 'blk.0.ffn_down.weight' is Q4_K; glmq imports F32, F16, BF16, "
                             "Q8_0, Q4_0 and Q4_1"));
  // Not a GGUF at all.
  EXPECT_EQ(Glmq("convert " + src + ".gguf -o " + Tmp("x.glmq"), &out), 1);
}

// A .glmq whose block linears are q4 with group `g` and everything else
// bf16 (AWQ/GPTQ folders keep embeddings dense).
std::string MakeLinearsQ4(const std::string& fixture, int g) {
  const std::string bf16 = MakeGlmq(fixture, "bf16");
  const std::string q = Tmp(fixture + "-lin" + std::to_string(g) + ".glmq");
  std::string out;
  EXPECT_EQ(Glmq("quantize " + bf16 + " -o " + q +
                     " --scheme none --tensor-type "
                     "'attn_qkv|attn_output|ffn_gate_up|ffn_down=q4:" +
                     std::to_string(g) + "'",
                 &out),
            0)
      << out;
  return q;
}

template <typename T>
std::vector<T> Values(const SafetensorsFile& f, const std::string& name) {
  const SafetensorsTensor* t = f.Find(name);
  EXPECT_NE(t, nullptr) << name;
  if (t == nullptr) return {};
  std::vector<T> v(t->size / sizeof(T));
  std::memcpy(v.data(), f.Data(*t).data(), t->size);
  return v;
}

// Every packed linear of the folder, decoded by the published layout, equals
// glmq's decoding of the same rows.
void ExpectPackedBitExact(const std::string& glmq_path, const std::string& dir,
                          gguf::HfQuantFormat format) {
  auto g = GlmqFile::Open(glmq_path);
  auto st = SafetensorsFile::Open(dir + "/model-00001-of-00001.safetensors");
  ASSERT_TRUE(g.ok() && st.ok()) << g.status() << st.status();
  const pb::HParams& hp = (*g)->hparams();
  int checked = 0;
  for (const pb::TensorEntry& e : (*g)->metadata().tensors()) {
    if (e.encoding() != pb::ENCODING_Q4_SYM) continue;
    const int64_t rows = TensorRows(e), cols = TensorCols(e);
    std::vector<float> ours(rows * cols);
    ASSERT_TRUE(DequantizeTensor(e, (*g)->TensorData(e), 0, rows, ours.data()).ok());
    const int64_t q = hp.n_heads() * hp.head_dim(), kv = hp.n_kv_heads() * hp.head_dim();
    const std::vector<int64_t> bounds = e.source_names_size() == 3
                                            ? std::vector<int64_t>{0, q, q + kv, rows}
                                            : std::vector<int64_t>{0, rows};
    for (int p = 0; p + 1 < static_cast<int>(bounds.size()); ++p) {
      std::string prefix = e.source_names(p);
      prefix.resize(prefix.size() - 7);  // ".weight"
      SCOPED_TRACE(prefix);
      const int64_t n = bounds[p + 1] - bounds[p];
      gguf::PackedInt4 packed;
      packed.qweight = Values<int32_t>(**st, prefix + ".qweight");
      packed.qzeros = Values<int32_t>(**st, prefix + ".qzeros");
      packed.scales = Values<uint16_t>(**st, prefix + ".scales");
      if (format == gguf::HfQuantFormat::kGptq)
        packed.g_idx = Values<int32_t>(**st, prefix + ".g_idx");
      std::vector<float> theirs(n * cols);
      gguf::DequantizePacked(format, packed, n, cols, e.group_size() ? e.group_size() : cols,
                             theirs.data());
      int64_t differ = 0;
      for (int64_t i = 0; i < n * cols; ++i) differ += !(theirs[i] == ours[bounds[p] * cols + i]);
      EXPECT_EQ(differ, 0);
      ++checked;
    }
  }
  EXPECT_GT(checked, 0);
}

struct HfCase {
  std::string fixture;
  int group;
  std::string to;
};
class HfQuantRoundTrip : public ::testing::TestWithParam<HfCase> {};

TEST_P(HfQuantRoundTrip, BitExactAndBack) {
  const HfCase& c = GetParam();
  const std::string src = MakeLinearsQ4(c.fixture, c.group);
  const std::string dir = Tmp(c.fixture + "-" + c.to), back = Tmp(c.fixture + "-" + c.to + ".glmq");
  std::string out;
  ASSERT_EQ(Glmq("export " + src + " --to " + c.to + " -o " + dir, &out), 0) << out;
  for (const char* f : {"config.json", "model.safetensors.index.json", "tokenizer_config.json",
                        "generation_config.json"}) {
    Created().push_back(dir + "/" + f);
  }
  Created().push_back(dir + "/model-00001-of-00001.safetensors");
  Created().push_back(dir +
                      (c.fixture == "glm4-tiny-chat" ? "/tokenizer.model" : "/tokenizer.json"));
  auto config = ReadJsonFile(dir + "/config.json");
  ASSERT_TRUE(config.ok());
  EXPECT_EQ((*config)["quantization_config"]["quant_method"], c.to);
  EXPECT_EQ((*config)["quantization_config"]["group_size"], c.group);
  ExpectPackedBitExact(src, dir,
                       c.to == "awq" ? gguf::HfQuantFormat::kAwq : gguf::HfQuantFormat::kGptq);
  ASSERT_EQ(Glmq("convert " + dir + " -o " + back, &out), 0) << out;
  ExpectSameTensors(src, back);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, HfQuantRoundTrip,
                         ::testing::Values(HfCase{"glm4-tiny-chat", 128, "awq"},
                                           HfCase{"glm4-tiny-chat", 128, "gptq"},
                                           HfCase{"glm4-tiny-chat-hf", 64, "awq"},
                                           HfCase{"glm4-tiny-0414", 32, "gptq"}),
                         [](const auto& info) {
                           std::string s = info.param.fixture + "_" + info.param.to;
                           for (char& ch : s)
                             ch = isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
                           return s;
                         });

TEST(ExportCli, AwqRoundTripKlIsExactlyZero) {
  const std::string src = MakeLinearsQ4("glm4-tiny-chat", 128);
  const std::string dir = Tmp("kl-awq"), back = Tmp("kl-awq.glmq");
  std::string out;
  ASSERT_EQ(Glmq("export " + src + " --to awq -o " + dir, &out), 0) << out;
  ASSERT_EQ(Glmq("convert " + dir + " -o " + back, &out), 0) << out;
  ASSERT_EQ(Glmq("eval kld --model " + back + " --ref " + src + " --text " + kValid +
                     " --max-windows 2 --json",
                 &out),
            0)
      << out;
  EXPECT_THAT(out, HasSubstr("\"mean_kld\": 0.0,")) << out;
  EXPECT_THAT(out, HasSubstr("\"kld_max\": 0.0,")) << out;
  std::filesystem::remove_all(dir);
}

TEST(ExportCli, AwqRefusalsAndMalformedFolders) {
  std::string out;
  // int4a-g128 mins are not integer zero points; int8 is not 4-bit.
  const std::string asym = MakeGlmq("glm4-tiny-chat", "int4a-g128");
  EXPECT_EQ(Glmq("export " + asym + " --to awq -o " + Tmp("asym"), &out), 1);
  EXPECT_THAT(out, HasSubstr("is not -z * scale for an integer zero point"));
  EXPECT_THAT(out, HasSubstr("int4-g128, symmetric, exports exactly"));
  const std::string int8 = MakeGlmq("glm4-tiny-chat", "int8");
  EXPECT_EQ(Glmq("export " + int8 + " --to gptq -o " + Tmp("q8"), &out), 1);
  EXPECT_THAT(out, HasSubstr("is q8 g32; AWQ/GPTQ hold 4-bit groups only"));
  // A good folder, then broken copies of its config and tensors.
  const std::string dir = Tmp("awq-bad");
  ASSERT_EQ(Glmq("export " + MakeLinearsQ4("glm4-tiny-chat", 128) + " --to awq -o " + dir, &out),
            0);
  auto config = ReadJsonFile(dir + "/config.json");
  ASSERT_TRUE(config.ok());
  Json bad = *config;
  bad["quantization_config"]["bits"] = 8;
  ASSERT_TRUE(WriteFileAtomically(dir + "/config.json", bad.dump()).ok());
  EXPECT_EQ(Glmq("convert " + dir + " -o " + Tmp("bad.glmq"), &out), 1);
  EXPECT_THAT(out, HasSubstr("quantization_config.bits must be 4"));
  bad = *config;
  bad["quantization_config"]["group_size"] = 64;  // the tensors hold groups of 128
  ASSERT_TRUE(WriteFileAtomically(dir + "/config.json", bad.dump()).ok());
  EXPECT_EQ(Glmq("convert " + dir + " -o " + Tmp("bad.glmq"), &out), 1);
  EXPECT_THAT(out, HasSubstr(dir + ": tensor 'transformer.encoder.layers.0.self_attention."
                                   "query_key_value.qzeros' must be i32 [4, 48]"));
  bad = *config;
  bad["quantization_config"]["quant_method"] = "bitsandbytes";
  ASSERT_TRUE(WriteFileAtomically(dir + "/config.json", bad.dump()).ok());
  EXPECT_EQ(Glmq("convert " + dir + " -o " + Tmp("bad.glmq"), &out), 1);
  EXPECT_THAT(out, HasSubstr("quant_method 'bitsandbytes'"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace glmq
