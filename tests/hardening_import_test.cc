// Regression tests of imported models (glmq convert M.gguf, convert of an
// AWQ / GPTQ folder): metadata of the wrong type or past the physical
// limits must end in a clean error naming the key or field, never an abort
// (a failed StatusOr dereferenced, nlohmann's type_error) or a long loop.
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "core/json.h"
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

}  // namespace
}  // namespace glmq::testing
