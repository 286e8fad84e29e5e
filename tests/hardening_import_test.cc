// Regression tests of imported models (glmq convert M.gguf, convert of an
// AWQ / GPTQ folder): metadata of the wrong type or past the physical
// limits must end in a clean error naming the key or field, never an abort
// (a failed StatusOr dereferenced, nlohmann's type_error) or a long loop.
#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "convert/safetensors.h"
#include "core/json.h"
#include "export/gguf_reader.h"
#include "tests/hardening_util.h"

namespace glmq::testing {
namespace {

class Imports : public Hardening {
 protected:
  static std::string Slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  static void Spit(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  }
  // Overwrites 4 bytes at `key`'s value type (+0) or value (+4) in a GGUF.
  static void PatchKey(std::string& gguf, const std::string& key, size_t at, uint32_t v) {
    const size_t pos = gguf.find(key);
    ASSERT_NE(pos, std::string::npos) << key;
    std::memcpy(&gguf[pos + key.size() + at], &v, 4);
  }
};

TEST_F(Imports, GgufKeysOfTheWrongTypeOrPastTheLimitsAreErrors) {
  const std::string gguf = Path("m.gguf");
  const CliRun e = Glmq("export " + M() + " --to gguf -o " + gguf);
  ASSERT_EQ(e.rc, 0) << e.output;
  const std::string good = Slurp(gguf);
  ASSERT_EQ(Glmq("convert " + gguf + " -o " + Path("back.glmq")).rc, 0);
  fs::remove(Path("back.glmq"));
  struct Case {
    const char* key;
    size_t at;
    uint32_t value;
    const char* error;
  };
  // GGUF value types: 4 u32, 6 f32. head_count_kv as an f32 aborted.
  for (const Case& c : {Case{"chatglm.attention.head_count_kv", 0, 6, "head_count_kv"},
                        Case{"chatglm.context_length", 0, 6, "context_length"},
                        Case{"chatglm.rope.dimension_count", 0, 6, "dimension_count"},
                        Case{"chatglm.block_count", 4, 0xffffffffu, "n_layers"},
                        Case{"chatglm.feed_forward_length", 4, 0x7fffffffu, "ffn"}}) {
    SCOPED_TRACE(c.key);
    std::string bad = good;
    PatchKey(bad, c.key, c.at, c.value);
    Spit(gguf, bad);
    EXPECT_CLEAN_ERROR(Glmq("convert " + gguf + " -o " + Path("back.glmq"), 30), c.error);
    EXPECT_FALSE(fs::exists(Path("back.glmq")));
  }
}

TEST_F(Imports, AwqConfigFieldsOfTheWrongTypeAreErrors) {
  const std::string dir = Path("awq");
  const CliRun e = Glmq("export " + Q() + " --to awq -o " + dir);
  ASSERT_EQ(e.rc, 0) << e.output;
  const std::string config = dir + "/config.json";
  const Json good = *ParseJson(Slurp(config), config);
  struct Case {
    const char* field;
    Json value;
    const char* error;
  };
  for (const Case& c : {Case{"", 5, "quantization_config is not an object"},
                        Case{"quant_method", 5, "quant_method"},
                        Case{"version", Json::array(), "version"},
                        Case{"bits", "four", "bits must be 4"},
                        Case{"group_size", 1.5, "group_size"}}) {
    SCOPED_TRACE(std::string(c.field) + " = " + c.value.dump());
    Json bad = good;
    if (*c.field == '\0') bad["quantization_config"] = c.value;
    else bad["quantization_config"][c.field] = c.value;
    Spit(config, bad.dump());
    EXPECT_CLEAN_ERROR(Glmq("convert " + dir + " -o " + Path("back.glmq"), 30), c.error);
    EXPECT_FALSE(fs::exists(Path("back.glmq")));
  }
  Json gptq = good;
  gptq["quantization_config"]["quant_method"] = "gptq";
  gptq["quantization_config"]["desc_act"] = "no";
  Spit(config, gptq.dump());
  EXPECT_CLEAN_ERROR(Glmq("convert " + dir + " -o " + Path("back.glmq"), 30), "desc_act");
}

// ggml's Q8_0 quantizer writes codes in [-127, 127]; -128 is valid ggml but
// has no exact glmq q8 form, so a file holding it is refused, naming the
// tensor, row and block; the file as glmq exported it imports.
TEST_F(Imports, GgufQ8CodeMinus128IsRefusedNamingTheBlock) {
  const std::string q8 = Path("q8.glmq"), gguf = Path("q8.gguf");
  ASSERT_EQ(Glmq("quantize " + M() + " -o " + q8 + " --scheme int8").rc, 0);
  const CliRun e = Glmq("export " + q8 + " --to gguf -o " + gguf);
  ASSERT_EQ(e.rc, 0) << e.output;
  const CliRun ok = Glmq("convert " + gguf + " -o " + Path("back.glmq"));
  ASSERT_EQ(ok.rc, 0) << ok.output;
  fs::remove(Path("back.glmq"));
  uint64_t at = 0, row_bytes = 0;
  std::string name;
  {
    auto f = gguf::GgufFile::Open(gguf);
    ASSERT_TRUE(f.ok()) << f.status();
    for (const gguf::TensorInfo& t : (*f)->tensors()) {
      if (t.type != 8 || t.ne.size() != 2) continue;  // Q8_0 matrices
      at = (*f)->data_offset() + t.offset;
      row_bytes = t.ne[0] / 32 * 34;
      name = t.name;
      break;
    }
  }
  ASSERT_FALSE(name.empty());
  std::string bad = Slurp(gguf);
  bad[at + row_bytes + 34 + 2 + 5] = '\x80';  // row 1, block 1, code 5
  Spit(gguf, bad);
  EXPECT_CLEAN_ERROR(Glmq("convert " + gguf + " -o " + Path("back.glmq"), 30),
                     "tensor '" + name + "' row 1, block 1 has the Q8_0 code -128");
  EXPECT_FALSE(fs::exists(Path("back.glmq")));
  EXPECT_EQ(TempFiles(), 0);
}

// A bias merged from q / k / v parts (Glm4ForCausalLM) whose parts differ
// in dtype: the parts were copied with the last part's element size, so an
// f32 k bias between bf16 q and v became garbage values. Now an error.
TEST_F(Imports, AwqMergedPartsOfDifferentDtypesAreErrors) {
  const std::string m = Path("m.glmq"), q = Path("q.glmq"), dir = Path("awq");
  ASSERT_EQ(Glmq("convert " + std::string(GLMQ_SHARED_DIR) + "/fixtures/models/glm4-tiny-0414 -o " +
                 m).rc, 0);
  ASSERT_EQ(Glmq("quantize " + m + " -o " + q + " --scheme int4-g128").rc, 0);
  const CliRun e = Glmq("export " + q + " --to awq -o " + dir);
  ASSERT_EQ(e.rc, 0) << e.output;
  const std::string shard = dir + "/model-00001-of-00001.safetensors";
  const std::string k = "model.layers.0.self_attn.k_proj.bias";
  std::string data;
  std::vector<SafetensorsTensor> out;
  {
    auto f = SafetensorsFile::Open(shard);
    ASSERT_TRUE(f.ok()) << f.status();
    for (SafetensorsTensor t : (*f)->tensors()) {
      const absl::Span<const uint8_t> b = (*f)->Data(t);
      std::string bytes(b.begin(), b.end());
      if (t.name == k) {  // bf16 -> f32, same values
        ASSERT_EQ(t.dtype, DType::kBF16);
        std::string wide;
        for (size_t i = 0; i < bytes.size(); i += 2) wide += std::string(2, '\0') + bytes.substr(i, 2);
        bytes = wide;
        t.dtype = DType::kF32;
      }
      t.offset = data.size();
      t.size = bytes.size();
      data += bytes;
      out.push_back(t);
    }
  }
  ASSERT_TRUE(std::any_of(out.begin(), out.end(), [&](auto& t) { return t.name == k; }));
  Spit(shard, SafetensorsHeader(out) + data);
  EXPECT_CLEAN_ERROR(Glmq("convert " + dir + " -o " + Path("back.glmq"), 30),
                     "tensor '" + k + "' is f32, unlike 'model.layers.0.self_attn.q_proj.bias'");
  EXPECT_FALSE(fs::exists(Path("back.glmq")));
}

}  // namespace
}  // namespace glmq::testing
